"""Access enforced on the dashboard's pages (AppTest on the demo store, local mode): refused roles
see nothing, each role's pages hold only what it may see (scanned in every element the server
would send, chart data included), and person-level data is not shown when the audit log cannot
be written."""
from __future__ import annotations

import re
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from app import access as app_access
from cdp import access, audit
from conftest import ROOT

CASTLE, MEADOWS, BULWELL = "E05012277", "E05012285", "E05012275"
PERSON_KEY = re.compile(rb"[VO]\d{6}")  # no \b: Arrow packs strings together


@pytest.fixture
def demo_facts(demo_people_places) -> dict:
    return demo_people_places


def received(at: AppTest) -> bytes:
    """Every element of the page as the server sends it (protobuf bytes: markdown, widget options,
    table data as Arrow, chart specs)."""
    out: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)
    walk(at._tree)
    return b"".join(out)


BDATA = re.compile(rb'"bdata":\s*"[^"]*"')


def person_keys(sent: bytes, demo_facts) -> set[str]:
    """The real person keys in what was sent (numeric chart arrays, base64 "bdata", left out: they
    hold no text, and random base64 could look like a key)."""
    return {k.decode() for k in PERSON_KEY.findall(BDATA.sub(b"", sent))} & demo_facts["keys"]


def residential_names(demo_facts, wards=None, outside=None) -> set[bytes]:
    return {name.encode() for _, name, ward in demo_facts["residential"]
            if (wards is None or ward in wards) and (outside is None or ward not in outside)}


def shown(markdown: str) -> str:
    """Markdown as the reader sees it (the page escapes text from outside: names, paths)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def open_as(monkeypatch, demo_db, role: str, areas: str = "", page: str | None = None) -> AppTest:
    monkeypatch.setenv("CDP_DB", str(demo_db))
    monkeypatch.setenv("CDP_ROLE", role)
    monkeypatch.setenv("CDP_ROLE_AREAS", areas)
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def with_premises_lists(at: AppTest) -> AppTest:
    """The sidebar's Places and Premises sections open: its premises lists are sent."""
    at.session_state["f_places_open"] = at.session_state["f_premises_open"] = True
    return at.run()


def test_an_unknown_local_role_is_refused_and_shows_nothing(demo_db, monkeypatch):
    at = open_as(monkeypatch, demo_db, "boards")
    assert at.title[0].value == "Unknown role"
    assert "CDP_ROLE is 'boards', which is not a role" in shown(at.error[0].value)
    assert not at.metric and not at.get("plotly_chart") and not at.dataframe
    assert not at.sidebar.selectbox and not at.sidebar.multiselect    # no filters either


def test_local_mode_says_so(app_test):
    at = app_test()
    banner = shown(at.sidebar.info[0].value)
    assert "Local mode" in banner and "127.0.0.1" in banner and "analyst" in banner


def test_sign_in_buttons_one_per_provider():
    assert app_access._providers({"redirect_uri": "x", "client_id": "c"}) == [None]
    assert app_access._providers({"redirect_uri": "x", "microsoft": {"client_id": "c"},
                                  "okta": {"client_id": "d"}}) == ["microsoft", "okta"]


def test_streamlit_is_configured_for_local_mode_and_no_table_downloads():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert access.is_loopback(settings["server"]["address"])
    assert settings["client"]["disableDataExport"] is True   # no table toolbar CSV download


def test_the_scan_finds_person_keys_where_analysts_see_them(app_test, demo_facts):
    at = app_test("pages/repeats.py")
    at.session_state["repeats_section"] = "Domestic abuse escalation"
    at.session_state["escalation_open"] = True
    at.run()
    assert len(person_keys(received(at), demo_facts)) > 10       # the escalation list, opened


def test_board_pages_carry_no_person_keys_or_residential_names(demo_db, demo_facts, monkeypatch):
    at = with_premises_lists(open_as(monkeypatch, demo_db, "board", page="pages/maps.py"))
    at.selectbox(key="maps_ward").set_value(CASTLE).run()
    assert not at.exception
    sent = received(at)
    assert b"Top premises" in sent and b"Residential address" in sent   # premises listed, names withheld
    assert not [n for n in residential_names(demo_facts) if n in sent]
    assert not person_keys(sent, demo_facts)
    for page in ("pages/overview.py", "pages/trends.py", "pages/briefing.py"):
        at.switch_page(page).run()
        assert not at.exception
        sent = received(at)
        assert not [n for n in residential_names(demo_facts) if n in sent]
        assert not person_keys(sent, demo_facts)


def test_a_neighbourhood_officer_sees_residential_names_in_their_wards_only(demo_db, demo_facts, monkeypatch):
    at = with_premises_lists(open_as(monkeypatch, demo_db, "neighbourhood", "Castle, Meadows",
                                     page="pages/maps.py"))
    mine = residential_names(demo_facts, wards={CASTLE, MEADOWS})
    others = residential_names(demo_facts, outside={CASTLE, MEADOWS})
    sent = received(at)                                   # the sidebar's premises lists
    assert any(n in sent for n in mine) and not [n for n in others if n in sent]
    at.selectbox(key="maps_ward").set_value(BULWELL).run()  # outside the area: withheld
    sent = received(at)
    assert b"Residential address (withheld)" in sent and not [n for n in others if n in sent]
    density = next(c for c in at.get("plotly_chart") if "top premises" in c.proto.spec)
    assert "Residential address (withheld)" in density.proto.spec       # the diamonds' hovers too
    at.selectbox(key="maps_ward").set_value(CASTLE).run()   # inside: named
    castle = residential_names(demo_facts, wards={CASTLE})
    assert any(n in received(at) for n in castle)
    assert not person_keys(received(at), demo_facts)


def test_a_neighbourhood_officer_profiles_places_in_their_wards_without_person_keys(
        demo_db, demo_facts, monkeypatch):
    at = open_as(monkeypatch, demo_db, "neighbourhood", "Castle, Meadows", page="pages/profile.py")
    assert at.radio(key="p_kind").options == ["Location", "Premises", "Radius around a point"]
    at.radio(key="p_kind").set_value("premises").run()
    premises = at.selectbox(key="p_premises")
    in_area = {key for key, _, ward in demo_facts["residential"] if ward in (CASTLE, MEADOWS)}
    offered = set(premises.options)
    assert offered and not any(o.startswith("Residential address") for o in offered)
    residential_key, name, _ = next(r for r in demo_facts["residential"] if r[2] == CASTLE)
    at.selectbox(key="p_premises").set_value(residential_key).run()
    assert not at.exception
    assert at.header[0].value == f"Premises {name} (residential)"
    timeline = next(d.value for d in at.dataframe if "incident_id" in d.value.columns)
    assert "victim_id" not in timeline and "offender_id" not in timeline and len(timeline) > 0
    assert set(timeline["ward"]) <= {"Castle", "Meadows"}
    sent = received(at)
    assert not person_keys(sent, demo_facts)
    assert [b.label for b in at.get("download_button")] == ["Download HTML", "Download PDF", "Download CSV"]
    (entry,) = audit.entries()
    assert (entry["role"], entry["page"], entry["action"], entry["user"]) == (
        "neighbourhood", "profile", "view", access.os_user())
    assert entry["filters"]["wards"] == [CASTLE, MEADOWS] and entry["filters"]["key"] == residential_key
    # A location profile counts only incidents in the officer's wards.
    at.radio(key="p_kind").set_value("location").run()
    at.text_input(key="p_location").set_value("Road").run()
    wards_shown = set(next(d.value for d in at.dataframe if "incident_id" in d.value.columns)["ward"])
    assert wards_shown and wards_shown <= {"Castle", "Meadows"}
    assert in_area  # the demo has residential premises in the area


def test_a_neighbourhood_officer_without_an_area_gets_no_profiles(demo_db, monkeypatch):
    at = open_as(monkeypatch, demo_db, "neighbourhood", "", page="pages/profile.py")
    assert any("No wards or Neighbourhood Action Team areas are assigned" in w.value for w in at.warning)
    assert not at.dataframe and not at.metric


def test_an_unusable_area_assignment_is_refused(demo_db, monkeypatch):
    at = open_as(monkeypatch, demo_db, "neighbourhood", "Castel")
    assert at.title[0].value == "The ward assignment cannot be used"
    assert "CDP_ROLE_AREAS: 'Castel' is neither a loaded ward nor a NAT area" in shown(at.error[0].value)
    assert not at.metric and not at.dataframe


def test_no_person_level_data_when_the_audit_log_cannot_be_written(app_test, demo_facts, tmp_path, monkeypatch):
    unwritable = tmp_path / "audit-is-a-folder"
    unwritable.mkdir()
    monkeypatch.setenv("CDP_AUDIT_LOG", str(unwritable))
    at = app_test("pages/repeats.py")
    at.session_state["repeats_section"] = "Domestic abuse escalation"
    at.session_state["escalation_open"] = True
    at.run()
    assert not [d for d in at.dataframe if "incidents_in_window" in d.value.columns]   # no escalation list
    assert not at.get("download_button")
    assert any("Person-level data is not shown" in e.value and str(unwritable) in shown(e.value)
               for e in at.error)
    assert at.metric  # the aggregates still show
    at.switch_page("pages/profile.py").run()
    assert any("Person-level data is not shown" in e.value for e in at.error)
    assert not [w for w in at.selectbox if w.key == "p_person"]        # no list of keys offered
    assert not person_keys(received(at), demo_facts)


AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                 "client_id": "cdp", "client_secret": "s",
                 "server_metadata_url": "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration"}}


def dashboard(demo_db, monkeypatch, user: dict, secrets: dict | None = None) -> AppTest:
    monkeypatch.setenv("CDP_DB", str(demo_db))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.user = user
    at.secrets = secrets or {}
    return at.run()


def test_with_login_configured_nobody_gets_past_the_sign_in_page(demo_db, monkeypatch):
    at = dashboard(demo_db, monkeypatch, {"is_logged_in": False}, AUTH)
    assert not at.exception
    assert at.title[0].value == "Nottingham Crime and Drugs Partnership"
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.selectbox and not at.metric and not at.get("plotly_chart")


def test_a_signed_in_user_gets_the_role_of_their_claim(demo_db, monkeypatch):
    at = dashboard(demo_db, monkeypatch, {"is_logged_in": True, "email": "bo@council.example",
                                          "name": "Bo", "roles": ["CDP.Board"]}, AUTH)
    assert not at.exception
    assert "Signed in as **Bo \\(bo\\@council\\.example\\), board member**" in at.sidebar.caption[0].value
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert at.title[0].value == "Overview" and at.metric
    refused = dashboard(demo_db, monkeypatch, {"is_logged_in": True, "email": "x@e", "roles": ["boards"]}, AUTH)
    assert refused.title[0].value == "No dashboard role" and not refused.metric


@pytest.fixture
def trusted_headers():
    from streamlit import config as st_config
    st_config.set_option("server.trustedUserHeaders", {"X-Proxy-Email": "email", "X-Proxy-Roles": "roles"})
    yield
    st_config.set_option("server.trustedUserHeaders", {})


def test_behind_a_proxy_the_trusted_headers_decide(demo_db, monkeypatch, trusted_headers):
    """Streamlit copies the configured headers into st.user; the access rules read them."""
    at = dashboard(demo_db, monkeypatch, {"email": "nat@council.example", "roles": "Other, CDP.Neighbourhood"})
    assert not at.exception
    assert "neighbourhood officer" in at.sidebar.caption[0].value and not at.sidebar.button  # no sign-out
    anonymous = dashboard(demo_db, monkeypatch, {"email": None, "roles": None})
    assert anonymous.title[0].value == "Not signed in"
    assert "authenticating proxy did not say who you are" in anonymous.error[0].value
    assert not anonymous.metric
    both = dashboard(demo_db, monkeypatch, {"is_logged_in": True, "email": "a@e", "roles": ["CDP.Analyst"]}, AUTH)
    assert both.title[0].value == "Login is configured twice" and not both.metric
