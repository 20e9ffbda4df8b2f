"""The shared filters: SQL they produce, the URL round trip, and what loaded data can serve."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from cdp import categories
from cdp import filters as flt
from cdp.ingest import ingest
from conftest import WARDS_FILE
from test_partner import EXTRACT

BASE = flt.Filters(start=date(2024, 1, 1), end=date(2024, 12, 1))


def test_periods():
    assert BASE.months == 12
    assert BASE.previous_period() == flt.Filters(start=date(2023, 1, 1), end=date(2023, 12, 1))
    assert BASE.year_earlier().start == date(2023, 1, 1)
    q3 = BASE.with_period(date(2024, 7, 1), date(2024, 9, 1))
    assert (q3.previous_period().start, q3.previous_period().end) == (date(2024, 4, 1), date(2024, 6, 1))
    assert flt.month_add(date(2024, 1, 1), -1) == date(2023, 12, 1)


def test_url_round_trip_restores_every_filter():
    f = flt.Filters(start=date(2023, 4, 1), end=date(2024, 3, 1), priorities=("asb", "hate_crime"),
                    wards=("E05012277",), area="Central", categories=("Noise", "Vehicle nuisance"),
                    age_bands=("18-24",), sexes=("F",), vulnerable_only=True,
                    repeat_only=True, location_text="Market", premises_types=("shop",),
                    premises_id="PR1", radius_m=500, centre_easting=457000.0,
                    centre_northing=339500.0, centre_label="PR1")
    query = flt.to_query(f, BASE)
    assert query["start"] == "2023-04" and query["priorities"] == "asb,hate_crime"
    assert query["categories"] == "Noise,Vehicle nuisance"
    assert flt.from_query(query, BASE) == f
    assert flt.to_query(BASE, BASE) == {}


def test_unreadable_url_values_fall_back_to_the_default():
    restored = flt.from_query({"start": "garbage", "priorities": "nonsense", "radius_m": "far"}, BASE)
    assert restored == BASE


def test_where_applies_people_places_and_premises(db, tmp_path):
    path = tmp_path / "extract.csv"
    path.write_text(EXTRACT)
    ingest(db, "partner", [path], boundaries=WARDS_FILE)

    def ids(f, **kw):
        sql, params = flt.where(f, **kw)
        return sorted(r[0] for r in db.execute(f"SELECT incident_id FROM incidents WHERE {sql}", params).fetchall())

    spring = BASE.with_period(date(2024, 3, 1), date(2024, 4, 1))
    assert ids(spring) == ["A1", "P1", "P2"]  # A2 has no location: kept, never counted
    assert ids(spring, counted=False) == ["A1", "A2", "P1", "P2"]
    assert ids(spring, priority="asb") == ["A1"]
    assert ids(spring, priority="dsva") == ["P1"]
    assert ids(flt.Filters(**{**spring.__dict__, "wards": ("E05012275",)})) == ["P2"]
    assert ids(flt.Filters(**{**spring.__dict__, "age_bands": ("18-24",)})) == ["P1"]
    assert ids(flt.Filters(**{**spring.__dict__, "vulnerable_only": True})) == ["P2"]
    assert ids(flt.Filters(**{**spring.__dict__, "location_text": "market"})) == ["A1", "P1"]
    assert ids(flt.Filters(**{**spring.__dict__, "premises_id": "PR1"})) == ["P1"]
    p1 = db.execute("SELECT easting, northing FROM incidents WHERE incident_id = 'P1'").fetchall()[0]
    near = flt.Filters(**{**spring.__dict__, "radius_m": 50, "centre_easting": p1[0] + 30,
                          "centre_northing": p1[1]})
    assert ids(near) == ["A1", "P1"]  # both at the Market Square point, 30 m away
    assert ids(flt.Filters(**{**near.__dict__, "radius_m": 20})) == []
    assert ids(BASE.with_period(date(2024, 4, 1), date(2024, 4, 1))) == ["A1"]
    assert ids(replace(spring, categories=("Noise",))) == ["A1"]
    assert ids(replace(spring, categories=("Noise", "Public order"))) == ["A1", "P2"]
    assert ids(replace(spring, categories=("Noise",)), priority="dsva") == []


def test_categories_are_grouped_as_the_store_counts_them(db, tmp_path):
    path = tmp_path / "extract.csv"
    path.write_text(EXTRACT + "A3,council_asb,2024-05,Littering & <b>fly-tipping</b>,,,,,,,,,,,,,,,true,,,,,,,,,,,\n")
    ingest(db, "partner", [path], boundaries=WARDS_FILE)
    groups = categories.category_groups(db)
    # ASB types first (the ASB categories and what is flagged ASB without a crime type), then crimes.
    assert list(groups.items()) == [("Littering & <b>fly-tipping</b>", "ASB"), ("Noise", "ASB"),
                                    ("Rowdy or inconsiderate behaviour", "ASB"),
                                    ("Public order", "Crime"), ("Violence and sexual offences", "Crime")]
    assert categories.label("Noise", groups) == "ASB: Noise"
    assert categories.label("Gone", groups) == "Gone"


def test_availability_says_why_police_uk_cannot_serve_people_filters(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    available = flt.availability(db)
    assert available["age_bands"] == ("police.uk data has no victim age bands: load a partner extract "
                                      "to use this filter")
    assert available["premises_id"] is not None
    assert available["location_text"] is None and available["radius_m"] is None


def test_repeat_victims_view(db, tmp_path):
    path = tmp_path / "repeat.csv"
    path.write_text("incident_id,source,occurred_at,category,longitude,latitude,victim_id\n"
                    "1,police,2023-12-20,Burglary,-1.15,52.95,V1\n"
                    "2,police,2024-01-05,Burglary,-1.15,52.95,V1\n"
                    "3,police,2023-01-01,Burglary,-1.15,52.95,V2\n"
                    "4,police,2024-06-01,Burglary,-1.15,52.95,V2\n"
                    "5,police,2024-06-01,Burglary,-1.15,52.95,V3\n"
                    "6,police,2023-03-01T23:00,Burglary,-1.15,52.95,V4\n"
                    "7,police,2024-02-29T23:30,Burglary,-1.15,52.95,V4\n"  # 365 days and 30 min
                    "8,police,2023-03-01,Burglary,-1.15,52.95,V5\n"
                    "9,police,2024-03-01,Burglary,-1.15,52.95,V5\n")  # 366 days: not a repeat
    ingest(db, "partner", [path], boundaries=WARDS_FILE)
    repeat = {r[0] for r in db.execute("SELECT victim_id FROM repeat_victims WHERE shortest_gap <= 365").fetchall()}
    # V1: 16 days apart across a year end; V2: 17 months; V4: 365 calendar days (as cdp.repeats
    # counts them, whatever the hour); V5: 366 days.
    assert repeat == {"V1", "V4"}
    chosen = flt.Filters(start=date(2023, 1, 1), end=date(2024, 12, 1), repeat_only=True)
    sql, params = flt.where(chosen)
    assert {r[0] for r in db.execute(f"SELECT DISTINCT victim_id FROM incidents WHERE {sql}", params).fetchall()} == {"V1", "V4"}


def test_the_filter_line_shows_category_names_as_text():
    from app.widgets import describe
    from cdp.markup import chart, md
    f = replace(BASE, categories=("**Loud** [music](http://x)",))
    assert describe(f).endswith("all wards · " + md("**Loud** [music](http://x)"))  # escaped as markdown
    assert describe(replace(f, categories=("<b>Noise</b>",)), chart).endswith("&lt;b&gt;Noise&lt;/b&gt;")
    assert describe(replace(f, categories=("A", "B", "C", "D"))).endswith("· 4 categories")


def test_captions_say_the_values_of_the_filters_applied_and_escape_text_from_data():
    from cdp.markup import chart, md
    f = replace(BASE, age_bands=("18-24", "25-34"), sexes=("F",), vulnerable_only=True,
                repeat_only=True, location_text="*Market*", premises_types=("shop", "hostel"),
                premises_id="P0012", radius_m=500, centre_easting=457000.0, centre_northing=340000.0,
                centre_label="<b>Victoria Centre</b>")
    words = flt.in_words(f, md)
    assert len(words) == 8
    assert words[:4] == ["victims aged 18-24 or 25-34", "victims recorded as female", "vulnerable victims only",
                         f"repeat victims only (two incidents within {flt.definitions().window_days} days)"]
    assert words[4] == r"locations matching “\*Market\*”"
    assert words[5:7] == ["premises: shop, hostel", "premises P0012"]
    assert flt.in_words(f, chart)[-1] == "within 500 m of &lt;b&gt;Victoria Centre&lt;/b&gt;"
    assert flt.in_words(replace(f, centre_label=""))[-1] == "within 500 m of easting 457000, northing 340000"
    # A radius without a centre selects nothing, so it is not said; no filters, no words.
    assert flt.in_words(replace(f, centre_easting=None, centre_northing=None), md) == words[:7]
    assert flt.in_words(BASE) == []
