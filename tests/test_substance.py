"""Drug offences and alcohol-related incidents from the store: hand-counted measures, the sidebar
filters applied (but not the priorities), wards, premises, and what police.uk data cannot show."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from cdp import areas, store, substance
from cdp.disclosure import Published, Rule
from cdp.filters import Filters
from cdp.ingest import ingest
from conftest import WARDS_FILE

CASTLE = (-1.1505, 52.9510)
BULWELL = (-1.1980, 53.0010)
HEADER = ("incident_id,source,occurred_at,category,longitude,latitude,premises_id,premises_name,premises_type,"
          "flag_drugs,flag_alcohol,flag_asb")
ROWS = [  # in March 2024 unless said
    ("1", "police", "2024-03-01", "Drugs", CASTLE, "", "", "", "", "", ""),
    ("2", "police", "2024-03-02", "Drugs", BULWELL, "", "", "", "", "", ""),
    ("3", "police", "2024-03-03", "Violence and sexual offences", CASTLE, "PR1", "The Bell", "licensed premises",
     "", "true", ""),
    ("4", "police", "2024-03-04", "Public order", CASTLE, "PR1", "The Bell", "licensed premises", "", "true", ""),
    ("5", "council_asb", "2024-03-05", "Street drinking", CASTLE, "", "", "", "", "", ""),
    ("6", "council_asb", "2024-03-06", "Drug dealing", BULWELL, "H1", "\"Flat 3, Oak House\"", "residential", "", "", ""),
    ("7", "council_asb", "2024-03-07", "Noise", CASTLE, "", "", "", "true", "true", ""),
    ("8", "police", "2023-03-08", "Drugs", CASTLE, "", "", "", "", "", ""),  # a year earlier
    ("9", "police", "2024-03-09", "Shoplifting", CASTLE, "S1", "Shop", "shop", "", "", ""),  # none of them
    # The council's system covers March 2023 too, so the two Marches may be compared (cdp.counting).
    ("10", "council_asb", "2023-03-10", "Noise", CASTLE, "", "", "", "", "", ""),
]
MARCH = Filters(start=date(2024, 3, 1), end=date(2024, 3, 1))


@pytest.fixture
def loaded(db, tmp_path):
    lines = [HEADER] + [",".join([i, source, day, category, str(at[0]), str(at[1]), *rest])
                        for i, source, day, category, at, *rest in ROWS]
    path = tmp_path / "extract.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest(db, "partner", [path], boundaries=WARDS_FILE)
    return db


def test_each_measure_hand_counted_with_a_year_earlier(loaded):
    result = substance.period_counts(loaded, MARCH)
    assert result["counts"] == {"drug_offences": 2, "alcohol_crimes": 2, "drug_asb": 2, "alcohol_asb": 2}
    drugs = result["changes"]["drug_offences"]
    assert (drugs.count, drugs.previous) == (2, 1) and result["reason"] is None
    # A year earlier than the store reaches is not compared, and the reason says so.
    early = substance.period_counts(loaded, Filters(start=date(2023, 4, 1), end=date(2023, 4, 1)))
    assert set(early["changes"].values()) == {None} and early["reason"] == "the loaded data starts in March 2023"


def test_the_sidebar_filters_apply_but_not_the_priorities(loaded):
    hate_only = replace(MARCH, priorities=("hate_crime",))
    assert substance.period_counts(loaded, hate_only)["counts"]["drug_offences"] == 2
    bulwell = replace(MARCH, wards=("E05012275",))
    assert substance.period_counts(loaded, bulwell)["counts"] == {"drug_offences": 1, "alcohol_crimes": 0,
                                                                  "drug_asb": 1, "alcohol_asb": 0}
    wards = substance.by_ward(loaded, MARCH).set_index("ward_name")
    assert len(wards) == 20 and wards.loc["Castle", "alcohol_crimes"] == 2 and wards.loc["Bulwell", "drug_asb"] == 1
    assert substance.by_ward(loaded, bulwell)["ward_name"].tolist() == ["Bulwell"]


def test_by_nat_area_sums_the_wards_and_rounds_each_area_on_its_own(loaded):
    nat = areas.Areas((areas.Area("Centre", ("E05012277",)), areas.Area("North", ("E05012275", "E05012276"))))
    columns = ["drug_offences", "alcohol_crimes", "drug_asb"]
    summed = substance.by_area(substance.by_ward(loaded, MARCH), nat, columns)
    assert summed.to_dict("list") == {"area": ["Centre", "North", areas.NO_AREA], "drug_offences": [1, 1, 0],
                                      "alcohol_crimes": [2, 0, 0], "drug_asb": [1, 1, 0]}
    board = substance.by_area(substance.by_ward(loaded, MARCH), nat, columns, Published(Rule(5, 5)))
    # Each area's total says 1 to 4, as its one ward with a count does: nothing is fixed.
    assert board["drug_offences"].tolist() == ["<5", "<5", "0"]
    # Four wards of 1 in an area of 4: a total of "<5" would say each is 1; it reads 5.
    four = pd.DataFrame({"ward_code": list("ABCD"), "n": [1, 1, 1, 1]})
    square = areas.Areas((areas.Area("Square", tuple("ABCD")),))
    assert substance.by_area(four, square, ["n"], Published(Rule(5, 5)))["n"].tolist() == ["5"]


def test_premises_types_and_the_top_premises(loaded):
    kinds = substance.by_premises_type(loaded, MARCH).set_index("premises_type")
    assert kinds.loc["licensed premises", "alcohol_crimes"] == 2
    assert kinds.index[-1] == "No premises recorded" and "shop" not in kinds.index  # the shop has none
    top = substance.top_premises(loaded, MARCH, "alcohol_crimes")
    assert top.iloc[0].tolist() == ["The Bell", "licensed premises", "Castle", 2]
    hidden = substance.top_premises(loaded, MARCH, "drug_asb")
    assert hidden["premises"].tolist() == ["Residential address H1"]
    assert substance.top_premises(loaded, MARCH, "drug_asb", residential_names=True)["premises"].tolist() == \
        ["Flat 3, Oak House"]


def test_monthly_counts_every_month(loaded):
    counts = substance.monthly(loaded, MARCH)
    assert counts.index.min().date() == date(2023, 3, 1)  # 24 months, but no earlier than the data
    assert counts.loc["2024-03-01", "drug_offences"] == 2 and counts.loc["2023-06-01"].sum() == 0
    figure = substance.trend_figure(counts, "crimes", MARCH.start)
    assert [t.name for t in figure.data] == ["Drug offences", "Alcohol-related crimes"]


def test_police_uk_data_shows_drug_offences_only(police_uk_db):
    con = store.connect(police_uk_db, read_only=True)
    try:
        why = substance.unavailable(con)
        assert why["drug_offences"] is None
        assert all("police.uk data has no drug or alcohol flags" in why[k]
                   for k in ("alcohol_crimes", "drug_asb", "alcohol_asb"))
        first = con.execute("SELECT min(month) FROM incidents").fetchall()[0][0]
        counted = substance.period_counts(con, Filters(start=first, end=first))
        assert counted["counts"]["drug_offences"] > 0 and counted["changes"]["drug_offences"] is None
    finally:
        con.close()
