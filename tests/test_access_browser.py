"""Logins end to end: the dashboard with Streamlit's OpenID Connect login against a local OIDC
provider (oidc-provider-mock on localhost) that the tests start, in Debian's headless Chromium.

An analyst, a neighbourhood officer for two wards, a board member and a user with no recognised
role sign in; each sees what their role allows, deep links to pages their role cannot open say so,
and the audit log names them. Everything each browser receives (the websocket's messages: page
elements, table data and chart specs) and every chart's data in the page is scanned for person
keys and for residential premises names the role may not see."""
from __future__ import annotations

import os
import re
import secrets
import shutil

import pytest

from cdp import audit
from servers import CHART_IMAGE, PLOTLY, chromium, dashboard, free_port, need_chromium, wait_until_idle
from test_browser import ARTIFACTS

pytestmark = pytest.mark.browser

CASTLE, MEADOWS, BULWELL = "E05012277", "E05012285", "E05012275"
PERSON_KEY = re.compile(r"[VO]\d{6}")  # no \b: Arrow packs strings together
SIGN_IN = "Sign in with your organisation's account"
USERS = {
    "analyst": {"email": "ana.lyst@council.example", "name": "Ana Lyst", "roles": ["CDP.Analyst"]},
    "officer": {"email": "nat.officer@council.example", "name": "Nat Officer", "roles": ["CDP.Neighbourhood"]},
    "board": {"email": "board.member@council.example", "name": "Bo *Ard* <b>[x](http://e)</b>",
              "roles": ["CDP.Board"]},
    "norole": {"email": "visitor@council.example", "name": "Vi Sitor", "roles": ["CDP.Visitors"]},
}
ACCESS = """
[claims]
user = ["email", "sub"]
roles = "roles"

[roles]
"CDP.Analyst" = "analyst"
"CDP.Board" = "board"
"CDP.Neighbourhood" = "neighbourhood"

[users]
"nat.officer@council.example" = { areas = ["Castle", "Meadows"] }
"""


@pytest.fixture
def facts(demo_people_places) -> dict:
    return demo_people_places


@pytest.fixture(scope="module")
def provider():
    """The local OpenID Connect provider, with the four users' claims."""
    need_chromium()
    from oidc_provider_mock import User, run_server_in_thread
    before = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"   # plain http on localhost, for the test only
    users = [User(sub=claims["email"], claims=claims) for claims in USERS.values()]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"
    if before is None:
        os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)


@pytest.fixture(scope="module")
def site(demo_db, provider, tmp_path_factory):
    """The dashboard with [auth] configured against the provider, on a copy of the demo store."""
    folder = tmp_path_factory.mktemp("oidc")
    shutil.copy(demo_db, folder / "cdp.duckdb")
    port = free_port()
    (folder / "secrets.toml").write_text(f"""[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "cdp-dashboard"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"
""")
    (folder / "access.toml").write_text(ACCESS)
    env = {"CDP_DB": str(folder / "cdp.duckdb"), "CDP_AUDIT_LOG": str(folder / "audit.log"),
           "CDP_ACCESS": str(folder / "access.toml"), "CDP_ROLE": "analyst", "AUTHLIB_INSECURE_TRANSPORT": "1"}
    with dashboard(env, folder / "server.log", ["--secrets.files", str(folder / "secrets.toml")],
                   port=port, host="localhost") as url:
        yield {"url": url, "log": folder / "audit.log"}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


class Session:
    """One person's browser: its own cookies, and every websocket message it receives."""

    def __init__(self, browser, url: str):
        self.url = url
        self.context = browser.new_context(viewport={"width": 1600, "height": 1000})
        self.page = self.context.new_page()
        self.received: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("websocket", self._listen)

    def _listen(self, socket) -> None:
        def keep(payload) -> None:
            self.received.append(payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload)
        socket.on("framereceived", keep)

    def open(self, path: str = "", expect: str | None = None) -> str:
        """Open `path` and wait until the script has run (and `expect` is on the page)."""
        self.page.goto(f"{self.url}/{path}", wait_until="domcontentloaded")
        self.page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
        if expect:
            self.page.get_by_text(expect).first.wait_for(timeout=60_000)
        wait_until_idle(self.page)
        return self.body()

    def body(self) -> str:
        return self.page.inner_text("body")

    def nav(self) -> str:
        return self.page.locator('[data-testid="stSidebarNav"]').inner_text()

    def sign_in(self, email: str, expect: str = "Signed in as") -> None:
        self.open(expect=SIGN_IN)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("button", name=email).click(timeout=30_000)   # the provider's form
        self.page.wait_for_url(re.compile(re.escape(self.url) + r"/?$"), timeout=30_000)
        self.page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
        self.page.get_by_text(expect).first.wait_for(timeout=60_000)
        wait_until_idle(self.page)

    def charts(self) -> str:
        """Every drawn chart: each Plotly chart's data and layout as JSON (typed arrays as
        numbers), and each chart image's SVG (sent base64-encoded, so not readable in `received`)."""
        return self.page.evaluate("""() => JSON.stringify([
            ...[...document.querySelectorAll('.js-plotly-plot')].map(el => ({data: el.data, layout: el.layout})),
            ...[...document.querySelectorAll('img[src^="data:image/svg+xml;base64,"]')]
                .map(el => new TextDecoder().decode(Uint8Array.from(atob(el.src.split(',')[1]), c => c.charCodeAt(0))))])""")

    def everything(self) -> str:
        return "\n".join([*self.received, self.body(), self.charts()])

    def drill_into(self, ward_name: str) -> None:
        box = self.page.locator(".st-key-maps_ward input")
        box.click()
        box.press_sequentially(ward_name[:5], delay=50)
        self.page.get_by_role("option", name=ward_name, exact=True).wait_for(timeout=15_000)
        self.page.get_by_role("option", name=ward_name, exact=True).click()
        wait_until_idle(self.page)
        self.page.get_by_text(re.compile(rf"^{re.escape(ward_name)}: ")).wait_for(timeout=60_000)
        self.page.get_by_text(re.compile("^Top premises in ")).wait_for(timeout=60_000)
        wait_until_idle(self.page)

    def open_sidebar_lists(self) -> None:
        """Open the sidebar's Places and Premises sections: their lists are sent only while open."""
        for section in ("Places", "Premises"):
            self.page.locator('[data-testid="stSidebar"] summary', has_text=section).first.click()
            wait_until_idle(self.page)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"access-{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


BDATA = re.compile(r'"bdata":\s*"[^"]*"')


def signed_in(browser, site, user: str, expect: str = "Signed in as") -> tuple[Session, str]:
    """A new browser session signed in as one of USERS, and that user's e-mail address."""
    who = Session(browser, site["url"])
    email = USERS[user]["email"]
    who.sign_in(email, expect)
    return who, email


def person_keys(text: str, facts) -> set[str]:
    """The real person keys in `text` (numeric chart arrays, base64 "bdata", left out: they hold
    no text, and random base64 could look like a key)."""
    return set(PERSON_KEY.findall(BDATA.sub("", text))) & facts["keys"]


def names(facts, inside=None, outside=None) -> set[str]:
    return {name for _, name, ward in facts["residential"]
            if (inside is None or ward in inside) and (outside is None or ward not in outside)}


def logged(site, user: str) -> list[dict]:
    return [e for e in audit.entries(site["log"]) if e["user"] == user]


def test_without_signing_in_there_is_only_the_sign_in_page(site, browser, facts):
    who = Session(browser, site["url"])
    for path in ("", "repeats", "profile", "maps"):
        body = who.open(path, expect=SIGN_IN)
        assert "Page not found" not in body
        assert who.page.get_by_role("button", name="Sign in").count() == 1
        assert who.page.locator(f"{PLOTLY}, {CHART_IMAGE}").count() == 0
        assert who.page.locator('[data-testid="stSidebarNav"]').count() == 0   # no page links
    who.shot("sign-in")
    received = who.everything()
    assert not person_keys(received, facts) and not [n for n in names(facts) if n in received]
    assert "Overview" not in who.body() and "Repeat victimisation" not in received
    assert not who.errors
    who.close()


def test_an_analyst_signs_in_and_is_audited(site, browser, facts):
    who, email = signed_in(browser, site, "analyst")
    body = who.body()
    assert "Overview" in body and f"Signed in as Ana Lyst ({email}), analyst" in body
    nav = who.nav()
    assert "Repeat victimisation" in nav and "Problem profile" in nav and "Data" in nav
    who.open("repeats", expect="Time to the next incident")
    who.page.get_by_role("tab", name="Domestic abuse escalation").click()   # the page's tab
    who.page.locator(".st-key-escalation_open summary").wait_for(timeout=60_000)
    wait_until_idle(who.page)
    assert not [e for e in logged(site, email) if e["what"] == "domestic abuse escalation victims"]
    who.page.locator(".st-key-escalation_open summary").click()   # the victims' list, opened
    who.page.get_by_role("button", name="Download the list (CSV)").wait_for(timeout=60_000)
    wait_until_idle(who.page)
    who.shot("analyst-repeats")
    assert person_keys(who.everything(), facts)       # analysts do receive keys: the scan works
    # The tables' own toolbars offer no download: the only one is the audited button.
    for table in who.page.locator('[data-testid="stDataFrame"]').all():
        if table.is_visible():                          # (the others are in tabs not shown)
            table.scroll_into_view_if_needed()
            table.hover()
    labels = [b.get_attribute("aria-label") or b.inner_text()
              for b in who.page.locator('[data-testid="stElementToolbar"] button').all()]
    assert "Search" in labels and not [label for label in labels if "ownload" in label]
    assert who.page.get_by_role("button", name="Download the list (CSV)").count() == 1
    (view,) = [e for e in logged(site, email) if e["what"] == "domestic abuse escalation victims"]
    assert (view["role"], view["mode"], view["action"], view["page"]) == ("analyst", "oidc", "view", "repeats")
    assert view["rows"] > 0 and view["filters"]["start"]
    assert audit.verify(site["log"]).ok
    assert not who.errors
    who.close()


def test_a_neighbourhood_officer_for_two_wards(site, browser, facts):
    who, email = signed_in(browser, site, "officer")
    assert f"Signed in as Nat Officer ({email}), neighbourhood officer" in who.body()
    nav = who.nav()
    assert "Repeat victimisation" not in nav and "Problem profile" in nav and "Hotspot maps" in nav
    body = who.open("repeats", expect="is not available")  # a deep link to a page the role cannot open
    assert "Repeat victimisation is not available to your role (neighbourhood officer)" in body
    assert "Page not found" not in body and who.page.locator(f"{PLOTLY}, {CHART_IMAGE}").count() == 0
    who.shot("officer-repeats-deep-link")
    who.open("maps", expect="Ward drill-down")
    who.drill_into("Bulwell")                          # outside the officer's wards
    who.shot("officer-maps-bulwell")
    assert "Residential address (withheld)" in who.everything()
    who.drill_into("Castle")                           # inside
    who.shot("officer-maps-castle")
    everything = who.everything()
    assert [n for n in names(facts, inside={CASTLE}) if n in everything]
    # A premises profile in Castle, named, without person keys.
    key, name, _ = next(r for r in facts["residential"] if r[2] == CASTLE)
    who.open(f"profile?premises_id={key}", expect="Take it to the meeting")
    who.shot("officer-profile")
    assert f"Premises {name} (residential)" in who.body()
    everything = who.everything()
    assert not person_keys(everything, facts)
    assert not [n for n in names(facts, outside={CASTLE, MEADOWS}) if n in everything]
    entries = logged(site, email)
    assert entries and {e["role"] for e in entries} == {"neighbourhood"}
    profile = [e for e in entries if e["what"].startswith("problem profile")]
    assert profile and profile[-1]["filters"]["key"] == key
    assert profile[-1]["filters"]["wards"] == sorted([CASTLE, MEADOWS])
    assert not who.errors
    who.close()


TREND_TABS = ("Series", "Control chart", "Rhythm")


def test_a_board_member(site, browser, facts):
    who, email = signed_in(browser, site, "board")
    # A name from the token is shown as text, never as markup.
    assert f"Signed in as Bo *Ard* <b>[x](http://e)</b> ({email}), board member" in who.body()
    nav = who.nav()
    assert "Problem profile" not in nav and "Repeat victimisation" not in nav and "Board briefing" in nav
    body = who.open("profile", expect="is not available")
    assert "Problem profile is not available to your role (board member)" in body
    who.open("maps", expect="Ward drill-down")
    who.drill_into("Castle")
    who.shot("board-maps-castle")
    for path in ("trends", "briefing"):
        who.open(path)
        if path == "trends":   # each of its tabs is drawn only while open: open every one
            for tab in TREND_TABS:
                who.page.get_by_role("tab", name=tab).click()
                wait_until_idle(who.page)
        who.page.wait_for_selector(PLOTLY if path == "trends" else CHART_IMAGE, timeout=60_000)
    who.open_sidebar_lists()
    everything = who.everything()
    assert "</svg>" in everything                      # the briefing's chart images, read too
    assert not person_keys(everything, facts)
    assert not [n for n in names(facts) if n in everything]
    assert "Residential address" in everything         # residential premises listed without names
    assert not logged(site, email)                     # no person-level data: nothing to log
    assert not who.errors
    who.close()


def test_a_user_with_no_recognised_role_sees_no_data(site, browser, facts):
    who, email = signed_in(browser, site, "norole", expect="No dashboard role")
    body = who.body()
    assert "No dashboard role" in body and "'CDP.Visitors'" in body and email in body
    who.shot("no-role")
    for path in ("maps", "repeats"):
        body = who.open(path, expect="No dashboard role")
        assert "No dashboard role" in body and who.page.locator(f"{PLOTLY}, {CHART_IMAGE}").count() == 0
    everything = who.everything()
    assert not person_keys(everything, facts) and not [n for n in names(facts) if n in everything]
    assert "Hotspot maps" not in who.body()
    who.page.get_by_role("button", name="Sign out").click()
    who.page.get_by_role("button", name="End session").click(timeout=30_000)  # the provider's logout
    who.page.get_by_text(SIGN_IN).wait_for(timeout=60_000)                      # back, signed out
    assert not logged(site, email)
    who.close()


def test_without_login_the_dashboard_serves_no_data_beyond_this_computer(demo_db, tmp_path, browser):
    """Local mode on every interface: refused, with the reason (the browser reaches it on 127.0.0.1)."""
    shutil.copy(demo_db, tmp_path / "cdp.duckdb")
    env = {"CDP_DB": str(tmp_path / "cdp.duckdb"), "CDP_ROLE": "analyst"}
    with dashboard(env, tmp_path / "server.log", ["--server.address", "0.0.0.0"]) as url:
        who = Session(browser, url)
        body = who.open(expect="Login is not configured")
        who.shot("local-mode-refused")
        assert "Login is not configured" in body and "listening on 0.0.0.0" in body
        assert who.page.locator(f"{PLOTLY}, {CHART_IMAGE}").count() == 0
        who.close()

