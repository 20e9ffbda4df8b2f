"""Who may see what: the viewer's answers, the access file, identities from an ID token or the
local set-up, restricting tables, and the Neighbourhood Action Team areas (real ward boundaries)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cdp import access, areas, config, exports, profiles, queries
from cdp.access import Refused, Viewer
from cdp.filters import Filters
from conftest import ROOT
from test_victimisation import insert_incidents

CASTLE, MEADOWS, BULWELL = "E05012277", "E05012285", "E05012275"
ANALYST = Viewer("ana@council.example", "analyst", mode="oidc")
BOARD = Viewer("bo@council.example", "board", mode="oidc")
OFFICER = Viewer("nat@council.example", "neighbourhood", wards={CASTLE, MEADOWS}, mode="oidc")


@pytest.fixture(scope="module")
def ward_names(wards) -> dict[str, str]:
    return dict(zip(wards["ward_code"], wards["ward_name"]))


# --- the viewer -----------------------------------------------------------------------------------

def test_what_each_role_may_see():
    assert ANALYST.sees_person_keys and not ANALYST.figures.restricted and ANALYST.residential_wards is None
    assert not OFFICER.sees_person_keys and not OFFICER.figures.restricted
    assert OFFICER.residential_wards == {CASTLE, MEADOWS} and OFFICER.place_wards == {CASTLE, MEADOWS}
    assert OFFICER.sees_residential_name(CASTLE) and not OFFICER.sees_residential_name(BULWELL)
    assert BOARD.figures.restricted and BOARD.residential_wards == frozenset()
    assert not BOARD.sees_residential_name(CASTLE) and ANALYST.sees_residential_name(None)
    assert [ANALYST.may_open(p) for p in ("repeats", "profile", "data", "briefing")] == [True] * 4
    assert [OFFICER.may_open(p) for p in ("repeats", "profile", "data", "maps")] == [False, True, True, True]
    assert [BOARD.may_open(p) for p in ("repeats", "profile", "data", "overview")] == [False, False, False, True]
    assert ANALYST.may_profile("person") and not OFFICER.may_profile("person")
    assert OFFICER.may_profile("premises") and not BOARD.may_profile("location")
    with pytest.raises(ValueError, match="unknown role 'boards'"):
        Viewer("x", "boards")


def test_restrict_drops_person_keys_and_withholds_residential_names_outside_the_area():
    table = pd.DataFrame({
        "premises_name": ["Flats, Arkwright Street", "The Crown", "Care home, Derby Road", "12 Acacia Avenue", None],
        "premises_type": ["residential", "licensed premises", "Residential - care", None, None],
        "ward_code": [MEADOWS, CASTLE, BULWELL, CASTLE, BULWELL],
        "victim_id": ["V1", "V2", None, "V3", "V4"], "offender_id": ["O1", None, None, None, "O2"]})
    original = table.copy()
    assert access.restrict(table, ANALYST).equals(table)
    officer = access.restrict(table, OFFICER)
    assert "victim_id" not in officer and "offender_id" not in officer
    # Named inside the officer's wards (Meadows, Castle); withheld in Bulwell; an unknown type
    # counts as residential; rows without a premises stay empty.
    assert officer["premises_name"].tolist()[:4] == ["Flats, Arkwright Street", "The Crown", access.WITHHELD,
                                                     "12 Acacia Avenue"]
    assert pd.isna(officer["premises_name"].iloc[4])
    board = access.restrict(table, BOARD)
    assert board["premises_name"].tolist()[:4] == [access.WITHHELD, "The Crown", access.WITHHELD, access.WITHHELD]
    one_ward = access.restrict(table.drop(columns="ward_code"), OFFICER, ward_code=BULWELL)
    assert one_ward["premises_name"].tolist()[:2] == [access.WITHHELD, "The Crown"]
    pd.testing.assert_frame_equal(table, original)  # never changes its input


def test_premises_choices_name_residential_premises_only_where_the_viewer_may(db):
    insert_incidents(db, [
        {"when": "2024-03-01", "premises_id": "R1", "premises_name": "Flats, Arkwright Street",
         "premises_type": "residential", "ward_code": "E2"},
        {"when": "2024-03-02", "premises_id": "R2", "premises_name": "Care home, Derby Road",
         "premises_type": "residential", "ward_code": "E1"},
        {"when": "2024-03-03", "premises_id": "P1", "premises_name": "The Crown",
         "premises_type": "licensed premises", "ward_code": "E1"}])
    label = {k: v[0] for k, v in queries.premises_options(db).items()}
    assert label == {"R1": "Flats, Arkwright Street (residential)", "R2": "Care home, Derby Road (residential)",
                     "P1": "The Crown (licensed premises)"}
    officer = {k: v[0] for k, v in queries.premises_options(db, frozenset({"E2"})).items()}
    assert officer == {**label, "R2": "Residential address R2"}
    board = {k: v[0] for k, v in queries.premises_options(db, frozenset()).items()}
    assert board["R1"] == "Residential address R1" and board["P1"] == "The Crown (licensed premises)"
    assert set(queries.premises_options(db, frozenset({"E2"}), within_wards=frozenset({"E2"}))) == {"R1"}
    assert queries.premises_options(db, False) == queries.premises_options(db, frozenset())


def test_a_neighbourhood_profile_covers_the_officers_wards_without_person_keys(db):
    insert_incidents(db, [
        {"when": "2024-03-01", "location": "On or near Market Street", "ward_code": "E1", "victim_id": "VKEY-0001",
         "offender_id": "OKEY-0001", "premises_id": "R1", "premises_name": "Flats, Market Street",
         "premises_type": "residential"},
        {"when": "2024-04-01", "location": "On or near Market Street", "ward_code": "E2", "victim_id": "VKEY-0002"}])
    f = Filters(start=date(2024, 1, 1), end=date(2024, 12, 1))
    officer = Viewer("nat", "neighbourhood", wards={"E1"})
    subject = profiles.Subject("location", "Market Street")
    with pytest.raises(PermissionError, match="outside"):
        profiles.for_viewer(profiles.build_profile(db, f, subject), officer)  # not limited to E1
    profile = profiles.for_viewer(profiles.build_profile(db, f, subject, within_wards=officer.place_wards),
                                  officer)
    assert profile.total_rows == 1 and profile.timeline["ward"].tolist() == ["Castle"]
    assert not profiles.has_person_keys(profile)
    assert "victim_id" not in profile.timeline and profile.victims.empty and profile.offenders.empty
    assert profile.linked_counts["victims"] == 1                 # the count stays
    assert profile.timeline["premises"].tolist() == ["Flats, Market Street"]   # inside the area
    customdata = [v for trace in profiles.timeline_figure(profile).data for row in trace.customdata for v in row]
    assert "VKEY-0001" not in customdata and "OKEY-0001" not in customdata
    for fmt in profiles.EXPORTS:
        data = exports.deliver(profiles.export(profile, fmt), officer)  # allowed: no keys in it
        assert b"KEY-000" not in data
    assert b"incident-level records" in profiles.export_bytes(profile, "html")
    with pytest.raises(PermissionError):
        profiles.for_viewer(profiles.build_profile(db, f, profiles.Subject("person", "VKEY-0001")), officer)
    with pytest.raises(PermissionError):
        profiles.for_viewer(profiles.build_profile(db, f, subject), BOARD)
    with pytest.raises(ValueError, match="needs at least one ward"):
        profiles.build_profile(db, f, subject, within_wards=frozenset())  # never "every ward"


# --- the access file and identities ----------------------------------------------------------------

ACCESS = """
[claims]
user = ["email", "preferred_username"]
roles = "roles"

[roles]
"CDP.Analyst" = "analyst"
"CDP.Board" = "board"
"CDP.Neighbourhood" = "neighbourhood"
"CDP.NAT.North" = { role = "neighbourhood", areas = ["North"] }

[users]
"nat@council.example" = { areas = ["Castle", "E05012285"] }
"pinned@council.example" = { role = "board" }
"""


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "access.toml"
    path.write_text(ACCESS)
    return access.load_config(path)


def entra(**claims) -> dict:
    """ID-token claims as Microsoft Entra ID v2.0 sends them (app roles in `roles`)."""
    return {"is_logged_in": True, "iss": "https://login.microsoftonline.com/tenant/v2.0",
            "aud": "client", "sub": "AAAA", "name": "Some One", **claims}


def test_the_shipped_access_file_loads():
    shipped = access.load_config(ROOT / "config" / "access.toml")
    assert shipped.role_claim == "roles" and shipped.user_claims[0] == "email"
    assert {g.role for g in shipped.role_values.values()} == set(access.ROLES)
    assert config.access_path() == ROOT / "config" / "access.toml"


def test_roles_from_the_token_claim(cfg, ward_names):
    analyst = access.viewer_from_identity(entra(email="Ana@Council.example", roles=["CDP.Analyst"]), cfg,
                                          ward_names)
    assert (analyst.user, analyst.role, analyst.mode, analyst.name) == ("Ana@Council.example", "analyst",
                                                                        "oidc", "Some One")
    # Several recognised values: the widest; unknown values beside them are ignored.
    both = access.viewer_from_identity(entra(email="x@e", roles=["CDP.Board", "cdp.analyst", "Other"]),
                                       cfg, ward_names)
    assert both.role == "analyst"
    # Entra's sign-in name when there is no email claim; a proxy's comma-separated header value.
    upn = access.viewer_from_identity(entra(preferred_username="b@e", roles="CDP.Board, Other"), cfg,
                                      ward_names, mode="proxy")
    assert (upn.user, upn.role, upn.mode) == ("b@e", "board", "proxy")


@pytest.mark.parametrize("roles", [None, [], ["boards"], ["CDP.Analysts", "analyst"], "admin"])
def test_an_unrecognised_role_is_refused_never_promoted(cfg, ward_names, roles):
    with pytest.raises(Refused, match="holds no role this dashboard recognises") as refused:
        access.viewer_from_identity(entra(email="who@e", roles=roles), cfg, ward_names)
    assert refused.value.title == "No dashboard role" and refused.value.user == "who@e"


def test_an_identity_without_a_user_claim_is_refused(cfg, ward_names):
    with pytest.raises(Refused, match="did not say who you are"):
        access.viewer_from_identity({"is_logged_in": True, "roles": ["CDP.Analyst"]}, cfg, ward_names)


def test_neighbourhood_wards_per_user_and_per_role_value(cfg, ward_names):
    officer = access.viewer_from_identity(entra(email="NAT@council.example", roles=["CDP.Neighbourhood"]),
                                          cfg, ward_names)
    assert officer.role == "neighbourhood" and officer.wards == {CASTLE, MEADOWS}
    north = access.viewer_from_identity(entra(email="n@e", roles=["CDP.NAT.North"]), cfg, ward_names)
    assert {ward_names[w] for w in north.wards} == {"Bulwell", "Bulwell Forest", "Bestwood", "Basford"}
    unassigned = access.viewer_from_identity(entra(email="u@e", roles=["CDP.Neighbourhood"]), cfg, ward_names)
    assert unassigned.role == "neighbourhood" and unassigned.wards == frozenset()
    role_only = access.viewer_from_identity(entra(email="n@e", roles=["CDP.NAT.North"]), cfg, None)
    assert role_only.role == "neighbourhood" and role_only.wards == frozenset()  # before wards load
    pinned = access.viewer_from_identity(entra(email="pinned@council.example", roles=["CDP.Analyst"]), cfg,
                                         ward_names)
    assert pinned.role == "board"                                # a user entry decides on its own


def test_an_assignment_naming_an_unknown_ward_is_refused(tmp_path, ward_names):
    path = tmp_path / "access.toml"
    path.write_text('[roles]\n"CDP.Neighbourhood" = "neighbourhood"\n\n[users]\n'
                    '"nat@e" = { areas = ["Castel"] }\n')
    with pytest.raises(Refused, match="'Castel' is neither a loaded ward nor a NAT area"):
        access.viewer_from_identity(entra(email="nat@e", roles=["CDP.Neighbourhood"]),
                                    access.load_config(path), ward_names)


@pytest.mark.parametrize("text, message", [
    ('[roles]\n"CDP.Analyst" = "analysts"\n', "line 2: CDP.Analyst: 'analysts' is not a role"),
    ('[rules]\nx = 1\n', "line 1: unknown section 'rules'"),
    ('[roles]\n"A" = "analyst"\n"a" = "board"\n', "line 3: 'a' is listed twice in [roles]"),
    ('[roles]\n"B" = { role = "board", areas = ["North"] }\n', "line 2: B: areas are assigned to the "
                                                                "neighbourhood role only"),
    ('[users]\n"x@e" = { role = "boss" }\n', "line 2: x@e: 'boss' is not a role"),
    ('[claims]\nroles = ["roles", "groups"]\n', "line 2: claims.roles must be the name of one claim"),
    ('[roles\n', "not valid TOML"),
])
def test_a_bad_access_file_names_the_file_the_line_and_the_reason(tmp_path, text, message):
    path = tmp_path / "access.toml"
    path.write_text(text)
    with pytest.raises(access.AccessConfigError) as error:
        access.load_config(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_local_mode_takes_the_role_from_cdp_role(ward_names):
    assert access.local_viewer(ward_names, {}).role == "analyst"
    assert access.local_viewer(ward_names, {"CDP_ROLE": " Board "}).role == "board"
    with pytest.raises(Refused, match="CDP_ROLE is 'boards', which is not a role"):
        access.local_viewer(ward_names, {"CDP_ROLE": "boards"})
    officer = access.local_viewer(ward_names, {"CDP_ROLE": "neighbourhood", "CDP_ROLE_AREAS": "South, Castle"})
    assert {ward_names[w] for w in officer.wards} == {"Meadows", "Clifton East", "Clifton West", "Castle"}
    assert officer.mode == "local" and officer.user == access.os_user()
    with pytest.raises(Refused, match="CDP_ROLE_AREAS: 'Nowhere' is neither"):
        access.local_viewer(ward_names, {"CDP_ROLE": "neighbourhood", "CDP_ROLE_AREAS": "Nowhere"})


def test_loopback_addresses():
    assert all(access.is_loopback(a) for a in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.1.1"))
    assert not any(access.is_loopback(a) for a in (None, "", "0.0.0.0", "::", "192.0.2.10", "example.org"))


# --- Neighbourhood Action Team areas ---------------------------------------------------------------

def test_the_shipped_areas_cover_each_nottingham_ward_once(ward_names):
    shipped = areas.load_areas(ward_names, ROOT / "config" / "areas.toml")
    assert shipped.names == ["North", "West", "Central", "East", "South"]
    covered = [code for area in shipped.areas for code in area.ward_codes]
    assert sorted(covered) == sorted(ward_names) and len(covered) == 20
    assert shipped.area_of(CASTLE) == "Central" and shipped.get(" south ").name == "South"
    assert areas.resolve(["south", "Bulwell", CASTLE], ward_names, shipped) == {
        MEADOWS, "E05012278", "E05012279", BULWELL, CASTLE}


@pytest.mark.parametrize("text, message", [
    ('[[areas]]\nname = "A"\nwards = ["Castle",\n  "Castel"]\n', "line 4: area 'A': 'Castel' is not one of the 20 loaded wards"),
    ('[[areas]]\nname = "A"\nwards = ["Castle"]\n[[areas]]\nname = "B"\nwards = ["E05012277"]\n',
     "line 6: ward 'E05012277' is in both 'A' and 'B'"),
    ('[[areas]]\nname = "A"\nwards = []\n', "line 2: area 'A' needs a list of wards"),
    ('[[areas]]\nwards = ["Castle"]\n', "area 1 has no name"),
    ('[[areas]]\nname = "A"\nwards = ["Castle"]\ncolour = "red"\n', "area 'A' has an unknown setting 'colour'"),
    ('[area]\nname = "A"\n', "unknown setting 'area'"),
    ('[[areas]\n', "not valid TOML"),
])
def test_a_bad_areas_file_names_the_file_the_line_and_the_reason(tmp_path, ward_names, text, message):
    path = tmp_path / "areas.toml"
    path.write_text(text)
    with pytest.raises(areas.AreaError) as error:
        areas.load_areas(ward_names, path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_areas_file_from_the_environment(tmp_path, ward_names, monkeypatch):
    path = tmp_path / "nat.toml"
    path.write_text('[[areas]]\nname = "City centre"\nwards = ["Castle", "Hyson Green & Arboretum"]\n')
    monkeypatch.setenv("CDP_AREAS", str(path))
    assert areas.resolve(["city centre"], ward_names) == {CASTLE, "E05012281"}
    monkeypatch.setenv("CDP_AREAS", str(tmp_path / "missing.toml"))
    with pytest.raises(areas.AreaError, match="does not exist"):
        areas.resolve(["City centre"], ward_names)
