"""The synthetic demo data: its format, determinism and the realism the dashboard relies on."""
from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cdp import demo, store
from cdp.priorities import ASB_CATEGORIES, POLICE_UK_CRIME_TYPES

SMALL_ROWS = 60_000

DESIGN_COLUMNS = [
    "incident_id", "source", "occurred_at", "category", "longitude", "latitude", "location",
    "premises_id", "premises_name", "premises_type", "victim_id", "offender_id",
    "victim_age_band", "victim_sex", "victim_vulnerable", "offender_age_band",
    "flag_asb", "flag_drugs", "flag_alcohol", "flag_hate_crime", "flag_weapon",
    "flag_modern_slavery", "flag_exploitation", "flag_domestic_abuse", "flag_sexual_violence",
    "hate_strand", "weapon_type", "outcome",
]
FLAG_COLUMNS = [c for c in DESIGN_COLUMNS if c.startswith("flag_")]


@pytest.fixture(scope="module")
def small(wards) -> pd.DataFrame:
    return demo.generate(wards, seed=7, rows=SMALL_ROWS)


@pytest.fixture(scope="module")
def full(wards) -> pd.DataFrame:
    """The default size: five plan years at realistic volumes."""
    return demo.generate(wards, seed=42)


def with_ward(frame: pd.DataFrame, wards: gpd.GeoDataFrame) -> pd.DataFrame:
    """`frame` with the ward_name each point falls within (spatial join on distinct points)."""
    points = frame[["longitude", "latitude"]].drop_duplicates()
    geo = gpd.GeoDataFrame(points, geometry=gpd.points_from_xy(points.longitude, points.latitude),
                           crs="EPSG:4326")
    joined = gpd.sjoin(geo, wards[["ward_name", "geometry"]], predicate="within")
    return frame.merge(joined[["longitude", "latitude", "ward_name"]],
                       on=["longitude", "latitude"], how="left")


def plan_year(frame: pd.DataFrame) -> pd.Series:
    """2020 for April 2020 - March 2021, and so on."""
    year = frame.occurred_at.str[:4].astype(int)
    return year - (frame.occurred_at.str[5:7].astype(int) < 4)


def is_true(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] == "true"


def repeat_share_12_months(frame: pd.DataFrame) -> float:
    """Share of victims with 2+ of these incidents within 12 months (DESIGN definition)."""
    rows = frame.loc[frame.victim_id != "", ["victim_id", "occurred_at"]].copy()
    rows["t"] = pd.to_datetime(rows.occurred_at)
    rows = rows.sort_values(["victim_id", "t"])
    gap = rows.groupby("victim_id").t.diff()
    shortest = gap.groupby(rows.victim_id).min()
    return float((shortest <= pd.Timedelta(days=365)).mean())


# --- Format -----------------------------------------------------------------------------------

def test_rows_follow_partner_extract_v1(small):
    assert list(small.columns) == DESIGN_COLUMNS
    assert len(small) == SMALL_ROWS
    assert small.occurred_at.str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}").all()
    # No local times that do not exist (the hour the clocks go forward).
    assert not small.occurred_at.str.startswith(
        ("2021-03-28T01", "2022-03-27T01", "2023-03-26T01", "2024-03-31T01")).any()
    for col in FLAG_COLUMNS:
        assert set(small[col]) <= {"true", "false"}, col
    assert set(small.victim_vulnerable) == {"true", "false", ""}
    assert set(small.victim_sex) == {"F", "M", "X", ""}
    ages = {"0-17", "18-24", "25-34", "35-49", "50-64", "65+", ""}
    assert set(small.victim_age_band) == ages and set(small.offender_age_band) == ages
    assert set(small.weapon_type) == {"knife", "firearm", "other", ""}
    strands = {s for v in small.hate_strand if v for s in v.split(";")}
    assert strands == {"race", "religion", "sexual_orientation", "disability", "transgender"}
    assert (small.hate_strand != "").eq(is_true(small, "flag_hate_crime")).all()
    assert (small.weapon_type != "").eq(is_true(small, "flag_weapon")).all()
    assert set(small.source) == {"police", "council_asb", "housing", "fire"}
    assert not small.duplicated(["source", "incident_id"]).any()
    assert small.victim_id[small.victim_id != ""].str.fullmatch(r"V\d{6,}").all()
    assert small.offender_id[small.offender_id != ""].str.fullmatch(r"O\d{6,}").all()
    assert (small.longitude.round(6) == small.longitude).all()
    asb = is_true(small, "flag_asb")
    assert small.category[asb].str.lower().isin(ASB_CATEGORIES).all()
    assert small.category[~asb].isin(POLICE_UK_CRIME_TYPES).all()
    assert not small.category[~asb].str.lower().isin(ASB_CATEGORIES).any()


def test_locations_read_like_streets(small):
    police = small[small.source == "police"].location
    council = small[small.source != "police"].location
    assert police.str.startswith("On or near ").all()
    assert not council.str.startswith("On or near ").any()
    streets = police.str.removeprefix("On or near ")
    suffix = r".*\b(Street|Road|Lane|Gate|Avenue|Drive|Way|Boulevard|Row|Close|Crescent|" \
             r"Gardens|Grove|Walk|Court|Rise|Mews|Place|Chase|Vale|Parkside|Silverdale|Ridgeway|" \
             r"North|West|Dale|Mount|Hermitage|" \
             r"Area|Station|Space|Subway|Building|Supermarket)$"
    assert streets.str.fullmatch(suffix).all(), streets[~streets.str.fullmatch(suffix)].unique()
    assert streets.nunique() > 300


def test_write_csv_round_trips_as_an_extract(wards, tmp_path):
    frame = demo.generate(wards, seed=3, rows=2_000)
    path = tmp_path / "extract.csv"
    demo.write_csv(frame, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == DESIGN_COLUMNS
    text_columns = [c for c in DESIGN_COLUMNS if c not in ("longitude", "latitude")]
    pd.testing.assert_frame_equal(back[text_columns], frame[text_columns].astype(str),
                                  check_dtype=False)
    assert np.allclose(back.longitude.astype(float), frame.longitude)


# --- Determinism and size --------------------------------------------------------------------

def test_same_seed_gives_identical_rows_and_another_seed_does_not(wards):
    first = demo.generate(wards, seed=11, rows=20_000)
    again = demo.generate(wards, seed=11, rows=20_000)
    other = demo.generate(wards, seed=12, rows=20_000)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert (first.occurred_at != other.occurred_at).mean() > 0.9


def test_rows_scales_the_volume_exactly(wards):
    frame = demo.generate(wards, seed=1, rows=12_345)
    assert len(frame) == 12_345
    asb_share = is_true(frame, "flag_asb").mean()
    assert asb_share == pytest.approx(demo.ASB_PER_YEAR / (demo.ASB_PER_YEAR
                                                           + demo.CRIMES_PER_YEAR), abs=0.01)
    with pytest.raises(ValueError):
        demo.generate(wards, rows=0)


def test_default_volumes_per_plan_year(full):
    assert len(full) == demo.DEFAULT_ROWS
    assert full.occurred_at.min() >= "2020-04-01" and full.occurred_at.max() < "2025-04-01"
    counts = pd.crosstab(plan_year(full), is_true(full, "flag_asb"))
    assert list(counts.index) == [2020, 2021, 2022, 2023, 2024]
    assert counts[False].between(35_000, 45_000).all(), counts
    assert counts[True].between(10_000, 15_000).all(), counts


# --- Priorities -------------------------------------------------------------------------------

def test_priorities_in_plausible_proportions(small):
    crime = small[~is_true(small, "flag_asb")]
    share = {c: is_true(crime, c).mean() for c in FLAG_COLUMNS}
    assert share["flag_domestic_abuse"] == pytest.approx(1 / 6, abs=0.03)
    assert 0.015 < share["flag_hate_crime"] < 0.05
    assert 0.02 < share["flag_weapon"] < 0.07
    assert 0.02 < share["flag_drugs"] < 0.08
    assert 0 < share["flag_modern_slavery"] < 0.005
    assert 0 < share["flag_exploitation"] < 0.015
    assert 0.2 < (crime.category == "Violence and sexual offences").mean() < 0.45


def test_incidents_belong_to_several_priorities(small):
    da, weapon, alcohol = (is_true(small, c) for c in
                           ("flag_domestic_abuse", "flag_weapon", "flag_alcohol"))
    assert (da & weapon & alcohol).sum() >= 10
    priorities = pd.DataFrame({
        "asb": is_true(small, "flag_asb"),
        "drugs_alcohol": is_true(small, "flag_drugs") | is_true(small, "flag_alcohol"),
        "hate_crime": is_true(small, "flag_hate_crime"),
        "weapons": is_true(small, "flag_weapon"),
        "exploitation": is_true(small, "flag_modern_slavery") | is_true(small,
                                                                       "flag_exploitation"),
        "dsva": is_true(small, "flag_domestic_abuse") | is_true(small, "flag_sexual_violence"),
    })
    assert (priorities.sum(axis=1) >= 2).mean() > 0.04


# --- Places and premises ----------------------------------------------------------------------

def top_five_percent_share(frame: pd.DataFrame) -> float:
    per_place = frame.groupby(["longitude", "latitude"]).size().sort_values(ascending=False)
    top = int(np.ceil(len(per_place) * 0.05))
    return per_place.iloc[:top].sum() / per_place.sum()


def test_crime_concentrates_at_few_places(small, full):
    assert 0.4 <= top_five_percent_share(small) <= 0.65
    assert 0.4 <= top_five_percent_share(full) <= 0.65


def test_every_point_lies_inside_a_ward(small, wards):
    located = with_ward(small, wards)
    assert len(located) == len(small)
    assert located.ward_name.notna().all()
    assert located.ward_name.nunique() == len(wards)


def test_castle_dominates_night_time_violence_and_residential_wards_the_rest(small, wards):
    located = with_ward(small, wards)
    t = pd.to_datetime(located.occurred_at)
    night = (t.dt.hour >= 22) | (t.dt.hour < 4)
    violence = located.category == "Violence and sexual offences"
    night_violence = located[violence & night & is_true(located, "flag_alcohol")]
    assert night_violence.ward_name.value_counts(normalize=True)["Castle"] > 0.4
    crime = located[~is_true(located, "flag_asb")]
    castle_share = (crime.ward_name == "Castle").mean()
    for flag_or_category in ("flag_domestic_abuse", "Burglary"):
        rows = (crime[is_true(crime, flag_or_category)] if flag_or_category.startswith("flag_")
                else crime[crime.category == flag_or_category])
        assert (rows.ward_name == "Castle").mean() < castle_share / 2
        assert rows.ward_name.value_counts().index[0] != "Castle"


def test_premises_have_types_and_a_few_generate_many_incidents(full):
    premises = full[full.premises_id != ""]
    assert premises.groupby("premises_id")[["premises_name", "premises_type"]].nunique().max() \
        .eq(1).all()
    types = set(premises.premises_type)
    assert types == {"licensed premises", "shop", "hostel", "school", "transport hub",
                     "residential"}
    per_premises = premises.premises_id.value_counts()
    assert 1_500 <= len(per_premises) <= 5_000
    assert per_premises.median() <= 20
    assert (per_premises >= 300).sum() >= 5
    shoplifting = full[full.category == "Shoplifting"]
    assert (shoplifting.premises_type == "shop").mean() > 0.9


# --- People -----------------------------------------------------------------------------------

def test_repeat_victimisation_strongest_in_domestic_abuse(small):
    da = small[is_true(small, "flag_domestic_abuse")]
    hate = small[is_true(small, "flag_hate_crime")]
    other = small[~is_true(small, "flag_domestic_abuse") & ~is_true(small, "flag_hate_crime")
                  & ~is_true(small, "flag_asb")]
    da_share = repeat_share_12_months(da)
    assert 0.25 <= da_share <= 0.45
    assert 0.05 <= repeat_share_12_months(hate) < da_share
    assert repeat_share_12_months(other) < 0.15
    per_victim = da[da.victim_id != ""].victim_id.value_counts()
    assert (per_victim >= 3).sum() > 50     # high-frequency victims
    assert per_victim.max() >= 10
    # A repeat DA victim is usually harmed at the same address.
    repeats = da[da.victim_id.isin(per_victim[per_victim >= 3].index)]
    places = repeats.groupby("victim_id").apply(
        lambda g: g.groupby(["longitude", "latitude"]).size().max() / len(g))
    assert places.median() >= 0.6


def test_people_have_heavy_tailed_counts_and_plausible_attributes(small):
    offenders = small[small.offender_id != ""].offender_id.value_counts()
    top_percent = offenders.iloc[: max(1, len(offenders) // 100)].sum() / offenders.sum()
    assert top_percent > 0.1
    assert (offenders == 1).mean() > 0.5
    da = small[is_true(small, "flag_domestic_abuse") & (small.victim_id != "")]
    assert 0.65 < (da.drop_duplicates("victim_id").victim_sex == "F").mean() < 0.9
    victims = small[small.victim_id != ""].drop_duplicates("victim_id")
    assert set(victims.victim_age_band) == {"0-17", "18-24", "25-34", "35-49", "50-64", "65+"}
    assert 0.05 < (victims.victim_vulnerable == "true").mean() < 0.35
    # One set of attributes per person.
    assert victims.victim_id.is_unique
    stable = small[small.victim_id != ""].groupby("victim_id")[["victim_sex",
                                                                 "victim_age_band"]].nunique()
    assert (stable == 1).all().all()


# --- Time -------------------------------------------------------------------------------------

def test_asb_peaks_in_summer_and_on_bonfire_night(small):
    asb = small[is_true(small, "flag_asb")]
    month = asb.occurred_at.str[5:7].astype(int)
    assert month.isin([6, 7, 8]).sum() > 1.25 * month.isin([12, 1, 2]).sum()
    day = asb.occurred_at.str[5:10]
    autumn = day.between("10-01", "11-30")
    assert (day == "11-05").sum() / 5 > 2 * (autumn.sum() / (61 * 5))


def test_castle_violence_peaks_on_friday_and_saturday_nights(small, wards):
    located = with_ward(small, wards)
    castle = located[(located.ward_name == "Castle")
                     & (located.category == "Violence and sexual offences")]
    t = pd.to_datetime(castle.occurred_at)
    busiest = pd.crosstab(t.dt.day_of_week, t.dt.hour).stack().nlargest(6)
    weekend_night = {(4, h) for h in (21, 22, 23)} | {(5, h) for h in range(0, 4)} | \
                    {(5, h) for h in (21, 22, 23)} | {(6, h) for h in range(0, 4)}
    assert set(busiest.index) <= weekend_night, busiest


def test_covid_lockdown_dip_in_spring_2020(full):
    crime = full[~is_true(full, "flag_asb")]
    month = crime.occurred_at.str[:7]
    spring_2020 = month.isin(["2020-04", "2020-05"]).sum()
    later = np.mean([month.isin([f"{y}-04", f"{y}-05"]).sum() for y in (2022, 2023, 2024)])
    assert spring_2020 < 0.85 * later
    nte = crime[crime.category == "Violence and sexual offences"]
    hour = nte.occurred_at.str[11:13].astype(int)
    late = nte[(hour >= 22) | (hour < 3)].occurred_at.str[:7]
    assert late.isin(["2020-04"]).sum() < 0.75 * late.isin(["2022-04"]).sum()


def test_asb_falls_toward_target_in_some_wards_and_not_others(full, wards):
    asb = with_ward(full[is_true(full, "flag_asb")], wards)
    counts = pd.crosstab(asb.ward_name, plan_year(asb))
    change = counts[2023] / counts[2020]
    for ward in ("Bulwell", "Aspley", "St. Ann's"):
        assert change[ward] < 0.8, change
    for ward in ("Castle", "Hyson Green & Arboretum"):
        assert change[ward] > 1.0, change


def test_hate_crime_spikes_after_euro_2020_final(small):
    hate = small[is_true(small, "flag_hate_crime")]
    monthly = hate.occurred_at.str[:7].value_counts()
    assert monthly.idxmax() == "2021-07"
    assert monthly["2021-07"] > 1.6 * monthly.median()
    july = hate[hate.occurred_at.str[:7] == "2021-07"]
    assert july.hate_strand.str.contains("race").mean() > 0.75


# --- Loading through the real importer ---------------------------------------------------------

def test_build_demo_loads_the_extract_and_a_police_uk_share_through_the_importers(wards, tmp_path):
    pytest.importorskip("cdp.ingest")
    from cdp import counting, demo_records
    con = store.connect(tmp_path / "demo.duckdb")
    try:
        messages = []
        summary = demo.build_demo(con, wards, seed=5, rows=5_000,
                                  progress=lambda m, f: messages.append((m, f)))
        assert summary.rows_generated == summary.rows_loaded == 5_000
        assert summary.police_uk_rows > 0
        assert store.incident_count(con) == summary.incidents
        by_source = dict(con.execute("SELECT source, count(*) FROM incidents WHERE dataset = 'police_uk' "
                                     "GROUP BY source").fetchall())
        assert set(by_source) == {demo_records.FORCE, demo_records.TRANSPORT_FORCE}
        # The force's police.uk months are its extract's: superseded, kept, not counted.
        assert summary.superseded == by_source[demo_records.FORCE]
        force_months = con.execute("SELECT DISTINCT month FROM incidents WHERE source = ? ORDER BY 1",
                                   [demo_records.FORCE]).fetchall()
        assert [m for (m,) in force_months] == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
        # Incidents outside the wards and without a location are kept and stated, never counted.
        assert summary.outside_area > 0 and summary.unlocated > 0
        stored = con.execute("SELECT location_status, count(*) FROM incidents WHERE NOT superseded "
                             "GROUP BY 1").fetchall()
        assert dict(stored) == {"in_area": summary.incidents - summary.superseded - summary.outside_area
                                - summary.unlocated, "outside_area": summary.outside_area,
                                "unlocated": summary.unlocated}
        # British Transport Police reports every month (no month incomplete for want of it), and
        # police.uk alongside the extract makes the coverage of the priorities it cannot flag a proxy.
        months = counting.months(con)
        every = pd.date_range("2020-04-01", "2025-03-01", freq="MS").date
        assert not any(demo_records.TRANSPORT_FORCE in " ".join(months.missing(m)) for m in every)
        assert months.coverage("weapons", date(2024, 4, 1), date(2025, 3, 1)).level == "proxy"
        assert months.coverage("asb", date(2024, 4, 1), date(2025, 3, 1)).level == "full"
        precision = dict(con.execute("SELECT time_precision, count(*) FROM incidents "
                                     "WHERE dataset = 'partner' GROUP BY 1").fetchall())
        assert set(precision) == {"month", "day", "datetime"}
        assert store.synthetic_note(con) == "Synthetic demo data (seed 5) - not real incidents"
        assert summary.sentence("demo.duckdb").startswith(
            "Built synthetic demo data (seed 5) in demo.duckdb: 5,000 partner extract incidents and ")
        fractions = [f for _, f in messages]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
    finally:
        con.close()


def test_recorded_extract_has_the_gaps_of_real_records_and_the_same_seed_gives_the_same(small, wards):
    from cdp import demo_records
    recorded = demo_records.as_recorded(small, wards, seed=11)
    assert recorded.equals(demo_records.as_recorded(small, wards, seed=11))
    assert len(recorded) == len(small)
    unlocated = recorded.longitude.isna()
    assert 0 < unlocated.mean() < 0.02
    assert set(recorded.source[unlocated]) <= set(demo_records.UNLOCATED_SHARE)
    located = recorded[~unlocated]
    outside = ~shapely.contains_xy(wards.to_crs(4326).union_all(), located.longitude, located.latitude)
    assert 0 < outside.mean() < 0.02
    assert set(located.source[outside]) <= set(demo_records.OUTSIDE_SHARE)
    month_only = recorded.occurred_at.str.fullmatch(r"\d{4}-\d{2}")
    assert set(recorded.source[month_only]) == {"housing"}
    assert (recorded.occurred_at[~month_only].str[:10] == small.occurred_at[~month_only].str[:10]).all()


def test_police_uk_share_is_the_force_s_last_months_and_transport_crimes_every_month(small, wards):
    from cdp import demo_records
    from cdp.ingest.police_uk import HEADER
    recorded = demo_records.as_recorded(small, wards, seed=11)
    share = demo_records.police_uk_share(recorded, 11, len(recorded), demo.DEFAULT_ROWS)
    assert list(share.columns) == HEADER
    force = share[share["Falls within"] == demo_records.FORCE]
    police = recorded[(recorded.source == "police") & (recorded.occurred_at.str[:7] >= "2025-01")]
    assert len(force) == len(police)
    assert sorted(force.Month.unique()) == ["2025-01", "2025-02", "2025-03"]
    assert (force["Crime ID"] == "").sum() == (~police.category.isin(
        share["Crime type"].unique()) | (police.category == "Anti-social behaviour")).sum()
    transport = share[share["Falls within"] == demo_records.TRANSPORT_FORCE]
    assert transport.Month.nunique() == 60
    assert transport["Crime ID"].is_unique and (transport.Longitude != "").all()


def test_rebuilding_the_demo_replaces_it_and_real_data_is_never_mixed(wards, tmp_path):
    pytest.importorskip("cdp.ingest")
    from cdp.ingest import ingest
    con = store.connect(tmp_path / "demo.duckdb")
    try:
        first = demo.build_demo(con, wards, seed=1, rows=3_000)
        summary = demo.build_demo(con, wards, seed=2, rows=2_000)
        assert summary.rows_replaced == first.incidents
        assert store.incident_count(con) == summary.incidents and summary.rows_loaded == 2_000
        assert store.synthetic_note(con) == demo.meta_value(2)
    finally:
        con.close()

    real = store.connect(tmp_path / "real.duckdb")
    try:
        extract = tmp_path / "partner.csv"
        demo.write_csv(demo.generate(wards, seed=3, rows=500), extract)
        ingest(real, "partner", [extract], wards=wards)  # stands in for a real partner extract
        with pytest.raises(demo.DemoStoreError, match="separate store"):
            demo.build_demo(real, wards, seed=4, rows=1_000)
        assert store.incident_count(real) == 500
        assert store.synthetic_note(real) is None
    finally:
        real.close()


# --- Building in chunks (bounded memory at any size) -------------------------------------------

def test_generating_in_chunks_numbers_incidents_and_people_across_chunks(wards):
    chunks = list(demo.generate_chunks(wards, seed=9, rows=5_000, chunk_rows=1_500))
    assert [len(c) for c in chunks] == demo.chunk_sizes(5_000, 1_500) == [1_250] * 4
    # The first chunk continues the places' random numbers, as an unchunked build of its size.
    assert chunks[0].equals(demo.generate(wards, seed=9, rows=1_250))
    whole = demo.generate(wards, seed=9, rows=5_000, chunk_rows=1_500)
    assert whole.equals(pd.concat(chunks, ignore_index=True))
    assert whole.equals(demo.generate(wards, seed=9, rows=5_000, chunk_rows=1_500))
    assert list(whole.columns) == DESIGN_COLUMNS
    # Incident ids and person keys continue from chunk to chunk: no two chunks share one.
    assert not whole.duplicated(["source", "incident_id"]).any()
    for column in ("victim_id", "offender_id"):
        keys = [set(c[column][c[column] != ""]) for c in chunks]
        assert all(keys) and sum(map(len, keys)) == len(set().union(*keys))
    # Places and premises are drawn once: a premises id is one place, whichever chunk names it.
    premises = whole[whole.premises_id != ""]
    assert (premises.groupby("premises_id")[["longitude", "latitude", "premises_name"]].nunique() == 1).all().all()
    assert len({frozenset(c.premises_id[c.premises_id != ""]) for c in chunks}) == 4
    # Each chunk covers the whole period with its share of every stream.
    assert all(c.occurred_at.str[:7].nunique() == 60 for c in chunks)
    unchunked = demo.generate(wards, seed=9, rows=5_000)
    by_category = whole.category.value_counts().sub(unchunked.category.value_counts(), fill_value=0)
    assert by_category.abs().max() <= 4 * len(chunks)


def test_a_build_in_chunks_loads_every_chunk_consistently(wards, tmp_path):
    pytest.importorskip("cdp.ingest")
    from cdp import demo_records
    con = store.connect(tmp_path / "chunked.duckdb")
    try:
        messages = []
        summary = demo.build_demo(con, wards, seed=5, rows=5_000, chunk_rows=1_500,
                                  progress=lambda m, f: messages.append((m, f)))
        # Every chunk's rows load: no key of one chunk replaces another's.
        assert summary.rows_generated == summary.rows_loaded == 5_000
        assert store.incident_count(con) == summary.incidents
        partner = con.execute("SELECT count(*), count(DISTINCT (source, incident_id)) FROM incidents "
                              "WHERE dataset = 'partner'").fetchall()[0]
        assert partner == (5_000, 5_000)
        # The police.uk share: one file per force holding every chunk's rows, so the force's last
        # three months are every chunk's police rows (all superseded), and transport crimes keep
        # distinct ids across chunks.
        force = con.execute("SELECT count(*), count(DISTINCT month) FROM incidents WHERE source = ?",
                            [demo_records.FORCE]).fetchall()[0]
        police_late = con.execute("SELECT count(*) FROM incidents WHERE dataset = 'partner' AND source = "
                                  "'police' AND month >= DATE '2025-01-01'").fetchall()[0][0]
        assert force == (police_late, 3) and summary.superseded == police_late
        transport = con.execute("SELECT count(*), count(DISTINCT incident_id), count(DISTINCT month) "
                                "FROM incidents WHERE source = ?", [demo_records.TRANSPORT_FORCE]).fetchall()[0]
        assert transport[0] == transport[1] > 60 and transport[2] == 60
        assert summary.police_uk_rows == force[0] + transport[0]
        # The same seed and size in one chunk gives a store of the same make-up.
        one = store.connect(tmp_path / "one.duckdb")
        try:
            single = demo.build_demo(one, wards, seed=5, rows=5_000)
            assert single.rows_loaded == summary.rows_loaded
            for sql in ("SELECT count(*) FROM incidents WHERE dataset = 'partner' AND victim_id IS NOT NULL",
                        "SELECT count(*) FROM incidents WHERE dataset = 'partner' AND premises_id IS NOT NULL"):
                a, b = con.execute(sql).fetchall()[0][0], one.execute(sql).fetchall()[0][0]
                assert abs(a - b) <= 0.1 * b
        finally:
            one.close()
        fractions = [f for _, f in messages]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert sum("Generated and wrote" in m for m, _ in messages) == 4
    finally:
        con.close()
