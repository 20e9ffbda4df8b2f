"""Offender keys in the partner extract: repeat offenders, time to the next offence, the ranked
list, the IOM cohort file and before/after on hand-counted data."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cdp import offenders, queries, repeats, store, victimisation
from cdp.disclosure import Published, Rule
from cdp.filters import Filters
from cdp.ingest import ingest
from cdp.reference import ReferenceFileError
from conftest import WARDS_FILE

CASTLE = (-1.1505, 52.9510)
HEADER = "incident_id,source,occurred_at,category,longitude,latitude,offender_id,victim_id"
# Period January to June 2024. O1: two offences 31 days apart in the period and one in August;
# O2: one in the period, 362 days after one in March 2023 (a repeat); O3 and O4: one each (O4's
# earlier one is 851 days before). An ASB incident naming O3 is no offence; one crime names nobody.
ROWS = [
    ("1", "2024-01-10", "Shoplifting", "O1", "V1"), ("2", "2024-02-10", "Burglary", "O1", "V2"),
    ("3", "2024-08-01", "Shoplifting", "O1", ""), ("4", "2023-03-05", "Robbery", "O2", "V3"),
    ("5", "2024-03-01", "Robbery", "O2", "V3"), ("6", "2024-04-01", "Drugs", "O3", ""),
    ("7", "2024-04-02", "Noise", "O3", ""), ("8", "2022-01-01", "Vehicle crime", "O4", ""),
    ("9", "2024-05-01", "Vehicle crime", "O4", ""), ("10", "2024-04-03", "Shoplifting", "", ""),
]
PERIOD = Filters(start=date(2024, 1, 1), end=date(2024, 6, 1))


@pytest.fixture
def loaded(db, tmp_path):
    lines = [HEADER] + [f"{i},police,{day},{category},{CASTLE[0]},{CASTLE[1]},{o},{v}"
                        for i, day, category, o, v in ROWS]
    path = tmp_path / "extract.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest(db, "partner", [path], boundaries=WARDS_FILE)
    return db


def test_repeat_offenders_and_their_share_hand_counted(loaded):
    result = offenders.repeat_offending(loaded, PERIOD)
    assert (result["offenders"], result["repeat_offenders"]) == (4, 2)       # O1 and O2
    assert result["repeat_share"] == 0.5
    assert (result["offences"], result["offences_by_repeat"]) == (5, 3)     # O1's two and O2's one
    assert result["offence_share"] == pytest.approx(0.6)
    assert result["coverage"] == {"crimes": 6, "with_offender": 5, "share": pytest.approx(5 / 6)}
    assert result["lookback_complete"] is True  # the data starts in January 2022


def test_time_to_the_next_offence_kaplan_meier(loaded):
    # Follow-ups: 31 days (event), 173 (event), and censored at 31 August 2024 after 183, 152, 122.
    # S(31) = 4/5; at 173 two are at risk, one offends: S = 0.8 * 0.5.
    result = offenders.repeat_offending(loaded, PERIOD)
    curve = result["curve"].set_index("days")
    assert curve.loc[31, "survival"] == pytest.approx(0.8) and curve.loc[173, "survival"] == pytest.approx(0.4)
    assert result["within"] == {28: 0.0, 90: pytest.approx(0.2), 365: pytest.approx(0.6)}
    figure = offenders.survival_figure(result["curve"])
    assert figure.layout.xaxis.title.text == "Days since the offence"


def pandas_repeat_offending(con, f: Filters) -> dict:
    """What repeat_offending worked out in pandas before its store query: cdp.repeats' measures
    on the pulled offences (offenders in `victim_id`)."""
    rows = offenders._as_person_rows(offenders.offender_rows(con, f))
    first, last = queries.data_months(con)
    start, end = victimisation.period_days(f.start, f.end)
    return {"summary": repeats.victim_summary(rows, start, end),
            "curve": repeats.time_to_next(rows, start, end, data_end=victimisation.month_end(last))}


@pytest.mark.parametrize("view", [
    Filters(start=date(2024, 4, 1), end=date(2025, 3, 1)), Filters(start=date(2025, 1, 1), end=date(2025, 3, 1)),
    Filters(start=date(2020, 4, 1), end=date(2020, 6, 1)),
    Filters(start=date(2023, 4, 1), end=date(2024, 3, 1), wards=("E05012277",), priorities=("asb", "dsva")),
    Filters(start=date(2024, 4, 1), end=date(2025, 3, 1), categories=("Shoplifting", "Burglary"))])
def test_repeat_offending_is_cdp_repeats_on_the_demo(demo_db, view):
    """The store's windows (cdp.repeat_windows.person_measures) give cdp.repeats' figures exactly."""
    con = store.connect(demo_db, read_only=True)
    try:
        got, expected = offenders.repeat_offending(con, view), pandas_repeat_offending(con, view)
        summary = expected["summary"]
        assert (got["offenders"], got["repeat_offenders"], got["repeat_share"]) == (
            summary["victims"], summary["repeat_victims"], summary["repeat_share"])
        assert (got["offences"], got["offences_by_repeat"], got["offence_share"]) == (
            summary["incidents"], summary["incidents_to_repeat_victims"], summary["repeat_incident_share"])
        pd.testing.assert_frame_equal(got["curve"], expected["curve"], check_exact=True)
        assert got["offenders"] > 0 or view.start.year == 2020
    finally:
        con.close()


def test_repeat_offending_hand_counted_is_cdp_repeats_too(loaded):
    got, expected = offenders.repeat_offending(loaded, PERIOD), pandas_repeat_offending(loaded, PERIOD)
    assert got["offenders"] == expected["summary"]["victims"]
    pd.testing.assert_frame_equal(got["curve"], expected["curve"], check_exact=True)


def test_the_ranked_list_of_frequent_offenders(loaded):
    top = offenders.frequent_offenders(loaded, PERIOD)
    assert top["offender_id"].tolist()[0] == "O1" and top["rank"].tolist() == [1, 2, 3, 4]
    first = top.iloc[0]
    assert (first["offences"], first["victims"], first["ward"]) == (2, 2, "Castle")
    assert first["categories"] == "Burglary 1, Shoplifting 1"
    assert "O3" in set(top["offender_id"]) and int(top.set_index("offender_id").loc["O3", "offences"]) == 1
    cohort = pd.DataFrame({"offender_id": ["O2", "O2"], "cohort": ["IOM fixed", "IOM flex"]})
    marked = offenders.frequent_offenders(loaded, PERIOD, cohort=cohort).set_index("offender_id")
    assert marked.loc["O2", "in_cohort"] == "IOM fixed, IOM flex" and marked.loc["O1", "in_cohort"] == ""
    castle_only = offenders.frequent_offenders(loaded, Filters(start=PERIOD.start, end=PERIOD.end,
                                                               wards=("E05012275",)))
    assert castle_only.empty  # every offence is in Castle, none in Bulwell


def test_before_and_after_entry_hand_counted():
    members = pd.DataFrame({"offender_id": ["A", "B", "C"], "cohort": "IOM",
                            "start_date": [date(2023, 1, 1), date(2023, 1, 1), date(2024, 12, 1)]})
    offences = pd.DataFrame({"offender_id": ["A", "A", "A", "A", "A", "B", "C"],
                             "date": pd.to_datetime(["2021-12-31", "2022-01-01", "2022-12-31", "2023-01-01",
                                                     "2024-01-01", "2023-12-31", "2024-01-01"])})
    table = offenders.before_after(members, offences, date(2021, 1, 1), date(2024, 12, 31)).set_index("offender_id")
    # A: 1 Jan 2022 (365 days before) and 31 Dec 2022 are in the year before, 31 Dec 2021 (366) is
    # not; 1 Jan 2023 (the start) is in the year after, 1 Jan 2024 (day 365) is not. B: 31 Dec
    # 2023 is day 364: in.
    assert (table.loc["A", "before"], table.loc["A", "after"]) == (2, 1)
    assert (table.loc["B", "before"], table.loc["B", "after"]) == (0, 1)
    assert not table.loc["C", "complete"] and table.loc["A", "complete"]


def test_the_change_is_judged_by_a_signed_rank_test():
    def summary(before, after):
        table = pd.DataFrame({"cohort": "IOM", "offender_id": [str(i) for i in range(len(before))],
                              "start_date": date(2023, 1, 1), "before": before, "after": after,
                              "complete": True, "known": True})
        return offenders.cohort_summary(table).iloc[0]
    five = summary([6, 7, 8, 9, 10], [5, 5, 5, 5, 5])     # differences -1 .. -5: exact p = 2/32
    assert five["p_value"] == pytest.approx(0.0625) and five["verdict"] == "no significant change"
    six = summary([6, 7, 8, 9, 10, 11], [5] * 6)          # -1 .. -6: p = 2/64
    assert six["p_value"] == pytest.approx(0.03125) and six["verdict"] == "significant fall"
    assert (six["before"], six["after"], six["fewer"], six["more"]) == (51, 30, 6, 0)
    assert offenders.cohort_sentence(six).endswith("significant fall (Wilcoxon signed-rank test, p = 0.03).")
    same = summary([2, 3], [2, 3])
    assert same["p_value"] is None and offenders.cohort_sentence(same).endswith("no member's count changed.")
    P = Published(Rule(5, 5))
    assert "withheld" in offenders.cohort_sentence(summary([3, 1], [1, 1]), P)
    # Six members (published 5), 51 offences before (50) and 30 after (30): per member from the
    # published counts, the test's verdict without its p-value.
    assert offenders.cohort_sentence(six, P) == (
        "IOM: 5 members with 12 months before and after entry committed 50 offences in the year before "
        "and 30 in the year after (10.0 against 6.0 per member): significant fall (Wilcoxon signed-rank test).")
    table = pd.concat([six.to_frame().T.assign(cohort="<b>Fixed</b>"), summary([3, 1], [1, 1]).to_frame().T])
    figure = offenders.cohort_figure(table)
    assert list(figure.data[0].x) == ["&lt;b&gt;Fixed&lt;/b&gt;", "IOM"] and list(figure.data[1].y) == [5.0, 1.0]
    board = offenders.cohort_figure(table, P)
    assert list(board.data[0].x) == ["&lt;b&gt;Fixed&lt;/b&gt;"] and list(board.data[0].y) == [10.0]


def test_cohort_outcomes_from_the_store(loaded, tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("offender_id,start_date,cohort\nO1,2024-02-01,IOM fixed\nO9,2024-02-01,\n", encoding="utf-8")
    members = offenders.load_cohort(path)
    assert members["cohort"].tolist() == ["IOM fixed", offenders.DEFAULT_COHORT]
    outcome = offenders.cohort_outcomes(loaded, members)
    table = outcome["members"].set_index("offender_id")
    assert (table.loc["O1", "before"], table.loc["O1", "after"]) == (1, 2)
    assert not table.loc["O1", "complete"]       # the data ends in August 2024
    assert not table.loc["O9", "known"]
    assert outcome["summary"].set_index("cohort").loc[offenders.DEFAULT_COHORT, "unknown"] == 1


BAD = {
    "no start date column": ("offender_id,joined\nO1,2024-01-01\n", 1, "no start_date column"),
    "empty key": ("offender_id,start_date\n,2024-01-01\n", 2, "the offender_id is empty"),
    "not a date": ("offender_id,start_date\nO1,2024-01-01\nO2,01/02/2024\n", 3,
                   "start_date '01/02/2024' is not a date written YYYY-MM-DD"),
    "impossible date": ("offender_id,start_date\nO1,2024-02-30\n", 2, "is not a date"),
    "member twice": ("offender_id,start_date,cohort\nO1,2024-01-01,A\nO1,2024-03-01,A\n", 3,
                     "offender O1 appears again in A (first on line 2)"),
    "no rows": ("offender_id,start_date\n", None, "the file has a header but no cohort members"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_cohort_file_is_refused_with_file_line_and_reason(tmp_path, case):
    text, line, reason = BAD[case]
    path = tmp_path / "cohort.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceFileError) as raised:
        offenders.load_cohort(path)
    assert raised.value.path == str(path) and raised.value.line == line and reason in raised.value.reason, \
        str(raised.value)


def test_the_same_member_may_be_in_two_cohorts(tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("offender_id,start_date,cohort\nO1,2024-01-01,A\nO1,2024-03-01,B\n", encoding="utf-8")
    assert len(offenders.load_cohort(path)) == 2
