"""Who is looking, in the Streamlit layer: the login gate, the viewer of this run, the navigation a
role may use, and the audit of person-level views. The rules themselves are in cdp/access.py.

How a user is identified, decided once per run:
- "oidc": `[auth]` is configured in .streamlit/secrets.toml: Streamlit's OpenID Connect login
  (st.login / st.user); the ID token's claims decide the role (cdp.access.viewer_from_identity).
- "proxy": `server.trustedUserHeaders` is configured: an authenticating reverse proxy passes the
  identity in headers that Streamlit copies into st.user.
- "local": neither. A single-user tool: it serves data only when the server listens on a loopback
  address (127.0.0.1), and the role comes from CDP_ROLE.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

import streamlit as st

from cdp import access, audit, config, queries, store

_PAGE_KEY = "_cdp_page"
_AUDITED_KEY = "_cdp_audited_views"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$@=])")


def _plain(text: str) -> str:
    """Text from a token, a header or a file, escaped so Markdown shows it as text."""
    return _MARKDOWN.sub(r"\\\1", str(text))


class _NeedsLogin(Exception):
    """No identity yet, and a login is configured: show the sign-in page."""


def _auth_section() -> dict:
    """The [auth] section of the secrets, or {} when there are no secrets or no [auth]."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all, or one that cannot be parsed
        return {}
    return section.to_dict() if hasattr(section, "to_dict") else dict(section or {})


def _trusted_headers() -> dict:
    """server.trustedUserHeaders (Streamlit parses the JSON form of the command line and env)."""
    mapping = st.get_option("server.trustedUserHeaders")
    return mapping if isinstance(mapping, dict) else {}


def _server_running() -> bool:
    """Whether a real server runs this script (AppTest and the benchmark run it with none)."""
    from streamlit import runtime
    return runtime.exists()


def mode() -> str:
    """How users are identified: "oidc", "proxy" or "local" (see the module docstring)."""
    auth, headers = _auth_section(), _trusted_headers()
    if auth and headers:
        raise access.Refused("Login is configured twice", "Both [auth] in secrets.toml and "
                             "server.trustedUserHeaders are set. Trusted headers would override the "
                             "login's identity, so no data is shown: configure one of them.")
    return "oidc" if auth else "proxy" if headers else "local"


def _providers(auth: dict) -> list[str | None]:
    """The named providers ([auth.NAME] tables with a client_id), or [None] for the default."""
    named = [name for name, value in auth.items() if isinstance(value, dict) and "client_id" in value]
    return named or [None]


@lru_cache(maxsize=4)
def _config(path: str, modified: float) -> access.AccessConfig:
    return access.load_config(Path(path))


def _access_config() -> access.AccessConfig:
    path = config.access_path()
    try:
        modified = path.stat().st_mtime
    except OSError:
        modified = 0.0
    try:
        return _config(str(path), modified)
    except access.AccessConfigError as exc:
        raise access.Refused("The access configuration cannot be used",
                             f"{exc}. No data is shown until it is corrected.") from None


def _ward_names() -> dict[str, str] | None:
    """The loaded wards, or None before any are loaded (assignments are resolved once they are;
    an empty store is not created here)."""
    from . import context
    if context.store_is_empty():
        return None
    return context.cached(queries.ward_names)() or None


def _resolve() -> access.Viewer:
    """The viewer of this run. Raises _NeedsLogin or access.Refused."""
    how = mode()
    if how == "local":
        address = st.get_option("server.address")
        if _server_running() and not access.is_loopback(address):
            raise access.Refused(
                "Login is not configured", f"The dashboard is listening on "
                f"{address or 'every network interface'}, but no login is configured, so it serves "
                "no data. Without login it is a single-user tool on this computer: run it with "
                "server.address 127.0.0.1 (as .streamlit/config.toml sets), or configure login "
                "([auth] in .streamlit/secrets.toml; see the README).")
        return access.local_viewer(_ward_names())
    identity = st.user.to_dict()
    if how == "oidc" and not identity.get("is_logged_in"):
        raise _NeedsLogin()
    return access.viewer_from_identity(identity, _access_config(), _ward_names(), mode=how)


def _current_page() -> str:
    return st.session_state.get(_PAGE_KEY, "")


def viewer() -> access.Viewer:
    """The viewer of this run, with the page being shown. Someone who may see nothing gets the
    sign-in page or a page saying why, and the run stops there."""
    try:
        return _resolve().on_page(_current_page())
    except _NeedsLogin:
        _sign_in_screen()
    except access.Refused as refusal:
        _refusal_screen(refusal)
    st.stop()
    raise AssertionError("unreachable")


def gate(page_keys: list[str]) -> access.Viewer:
    """The viewer, for dashboard.py before it builds the navigation. Without an identity (or with
    a refused one) every page address shows the sign-in page or the reason, and the run stops."""
    from . import context
    try:
        return _resolve()
    except _NeedsLogin:
        screen: Callable[[], None] = _sign_in_screen
    except access.Refused as refusal:
        screen = partial(_refusal_screen, refusal)
    except (store.Busy, store.StoreError) as problem:  # reading the wards: say so, keep the address
        screen = partial(context.store_problem, st, problem)
    pages = [st.Page(screen, title="Sign in", url_path=key, default=i == 0, visibility="hidden")
             for i, key in enumerate(page_keys)]
    st.navigation(pages, position="hidden").run()
    st.stop()
    raise AssertionError("unreachable")


def _sign_in_screen() -> None:
    st.title("Nottingham Crime and Drugs Partnership")
    st.subheader("Community safety dashboard")
    st.write("Sign in with your organisation's account to continue. What you can see depends on "
             "the role your organisation has given you: board, neighbourhood or analyst.")
    for provider in _providers(_auth_section()):
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        if st.button(label, type="primary", key=f"sign-in-{provider or 'default'}",
                     icon=":material/login:"):
            st.login(provider) if provider else st.login()


def _refusal_screen(refusal: access.Refused) -> None:
    st.title(refusal.title)
    st.error(_plain(refusal), icon=":material/block:")
    st.caption("No data is shown.")
    try:
        logged_in = mode() == "oidc" and st.user.to_dict().get("is_logged_in")
    except access.Refused:
        logged_in = False
    if logged_in and st.button("Sign out", key="sign-out-refused", icon=":material/logout:"):
        st.logout()


def pages_for(viewer: access.Viewer, pages: list[tuple], here: Path) -> list:
    """st.Page objects for `pages` ((key, file, title, icon) rows): the ones the viewer may open
    in the navigation; the others hidden, answering a deep link with "not available to your
    role" (the page's file never runs)."""
    out = []
    for key, file, title, icon in pages:
        if not (here / file).exists():
            continue
        if viewer.may_open(key):
            out.append(st.Page(str(here / file), title=title, icon=icon, url_path=key,
                               default=key == "overview"))
        else:
            out.append(st.Page(_not_available(title, viewer), title=title, icon=icon, url_path=key,
                               visibility="hidden"))
    return out


def _not_available(title: str, viewer: access.Viewer) -> Callable[[], None]:
    def page() -> None:
        st.title(title)
        st.warning(f"**{title}** is not available to your role "
                   f"({access.ROLE_LABELS[viewer.role].lower()}). The pages you can open are in "
                   "the navigation.", icon=":material/lock:")
    page.__name__ = f"not_available_{title}"
    return page


def set_page(url_path: str) -> None:
    """Record the page this run shows (for the audit log); dashboard.py calls it after navigation."""
    st.session_state[_PAGE_KEY] = url_path or "overview"


def banner(viewer: access.Viewer) -> None:
    """Who is signed in, and how, at the top of the sidebar (local mode says what that means)."""
    bar = st.sidebar
    if viewer.mode == "local":
        address = _plain(st.get_option("server.address") or "127.0.0.1")
        bar.info(f"**Local mode**: no login is configured, so this dashboard serves this computer "
                 f"only ({address}). Role: **{viewer.role}** (CDP_ROLE).", icon=":material/computer:")
        return
    bar.caption(f"Signed in as **{_plain(viewer.description)}**")
    if viewer.mode == "oidc" and bar.button("Sign out", key="sign-out", icon=":material/logout:"):
        st.logout()


def audited_view(what: str, filters: dict, rows: int) -> bool:
    """Write this view of person-level rows to the audit log before it is drawn, and say whether it
    may be drawn. A view is logged when it is first shown in a session and whenever what it shows
    changes; if the log cannot be written the rows are not shown and the page says why."""
    who = viewer()
    signature = json.dumps([who.page, what, filters, int(rows)], sort_keys=True, default=str)
    seen = st.session_state.setdefault(_AUDITED_KEY, set())
    try:
        if signature in seen:
            audit.check_writable()
        else:
            access.log_person_view(who, what, filters, rows)
            seen.add(signature)
    except audit.AuditUnavailable as exc:
        st.error(f"**Person-level data is not shown: {_plain(exc)}.** Every view and export of "
                 "victim and offender keys must be written to the audit log first. Tell the "
                 "dashboard's administrator.", icon=":material/gpp_bad:")
        return False
    return True


def opened_person_list(label: str, key: str, what: str, filters: dict, rows: int):
    """A closed-by-default section (`label`, widget `key`) holding person-level rows: they are sent,
    and their view written to the audit log (audited_view), only while it is open. The section to
    draw the rows into, or None while it is closed or the log cannot be written."""
    listing = st.expander(f"{label} (opening the list is recorded in the audit log)", key=key,
                          on_change="rerun", icon=":material/lock:")
    return listing if listing.open and audited_view(what, filters, rows) else None
