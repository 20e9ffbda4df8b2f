"""The NDTMS treatment file: the format before this release still reads, substance groups and
quarters, the rates on hand-checkable figures, the board's target from the same file, bad input."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cdp import briefing, treatment
from cdp.briefing import Target, TargetsConfig
from cdp.disclosure import Published, Rule, TrueValues
from cdp.reference import ReferenceFileError

MAINTAIN = Target("Maintain successful completions", "treatment", "maintain", 0, "drugs_alcohol")
CONFIG = TargetsConfig(date(2020, 4, 1), date(2021, 3, 1), (MAINTAIN,))
GROUPS = {"opiate": (1000, 5, 1), "non-opiate": (300, 9, 0), "alcohol": (600, 20, 2),
          "alcohol and non-opiate": (100, 6, 1)}


def write(tmp_path, lines, name="treatment.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def by_substance(months: int, start: str = "2020-04", groups=GROUPS) -> list[str]:
    lines = ["month,substance,in_treatment,successful_completions,re_presentations"]
    for m in pd.date_range(start, periods=months, freq="MS"):
        lines += [f"{m:%Y-%m},{name},{n},{c},{r}" for name, (n, c, r) in groups.items()]
    return lines


def test_the_format_before_this_release_still_reads(tmp_path):
    path = write(tmp_path, ["month,successful_completions,in_treatment", "2020-05,28,1046", "2020-04,31,1042"])
    frame = treatment.load(path)
    assert frame["substance"].tolist() == ["all", "all"] and frame["months"].tolist() == [1, 1]
    assert frame["period"].tolist() == [date(2020, 4, 1), date(2020, 5, 1)]
    assert frame["re_presentations"].isna().all()
    totals = treatment.totals(frame)
    assert totals["successful_completions"].tolist() == [31, 28] and totals["in_treatment"].tolist() == [1042, 1046]


def test_substance_groups_add_up_to_all_substances(tmp_path):
    frame = treatment.load(write(tmp_path, by_substance(2)))
    assert sorted(set(frame["substance"])) == sorted(treatment.SUBSTANCES)
    totals = treatment.totals(frame)
    assert totals["in_treatment"].tolist() == [2000, 2000]
    assert totals["successful_completions"].tolist() == [40, 40] and totals["re_presentations"].tolist() == [4, 4]
    # An 'all' row, where given, is the period's total (NDTMS rounds, so it need not be the sum).
    lines = by_substance(1) + ["2020-04,All substances,1998,41,"]
    assert treatment.totals(treatment.load(write(tmp_path, lines)))["in_treatment"].tolist() == [1998]


def test_published_labels_and_quarters(tmp_path):
    lines = ["quarter,substance,in_treatment,successful_completions",
             "2024-Q1,Opiate,1000,15", "2024-Q1,Non-opiate only,300,27", "2024-Q1,Alcohol only,600,60",
             "2024-Q1,Non-opiate and alcohol,100,18", "2024q2,opiate,990,14", "2024q2,non_opiate,310,25",
             "2024q2,alcohol,610,55", "2024q2,alcohol_and_non_opiate,105,17"]
    frame = treatment.load(write(tmp_path, lines))
    assert frame["months"].eq(3).all() and sorted(set(frame["period"])) == [date(2024, 1, 1), date(2024, 4, 1)]
    assert treatment.period_label(date(2024, 4, 1), 3) == "Q2 2024 (Apr to Jun)"
    assert treatment.last_month(treatment.totals(frame)) == date(2024, 6, 1)


def test_rolling_rates_on_hand_checkable_figures(tmp_path):
    table = treatment.rolling(treatment.load(write(tmp_path, by_substance(13))))
    opiate = table[table["substance"] == "opiate"].dropna(subset=["completion_rate"])
    # 12 months of 5 completions among 1,000 in treatment: 60 / 1,000; re-presentations 12 of 60.
    assert opiate["completions_12m"].tolist() == [60, 60]
    assert opiate["completion_rate"].iat[-1] == pytest.approx(0.06)
    assert opiate["re_presentation_rate"].iat[-1] == pytest.approx(0.2)
    every = table[table["substance"] == "all"].dropna(subset=["completion_rate"])
    assert every["completion_rate"].iat[-1] == pytest.approx(480 / 2000)
    assert table[table["substance"] == "opiate"]["completion_rate"].isna().sum() == 11  # the first 11 months
    latest = treatment.latest_comparison(table)
    assert latest.set_index("substance").loc["alcohol", "completion_rate"] == pytest.approx(240 / 600)
    assert latest["verdict"].isna().all()  # no year earlier in 13 months
    board = treatment.published(table, Published(Rule(5, 5)))
    # 12 opiate re-presentations (published 10) of 60 completions: 10 / 60; 3 (a count of 1-4)
    # would be withheld. 1,000 in treatment, 60 completions: published as they are.
    opiate = board[board["substance"] == "opiate"].dropna(subset=["re_presentation_rate"])
    assert opiate["re_presentation_rate"].iat[-1] == pytest.approx(10 / 60)
    assert opiate["completion_rate"].iat[-1] == pytest.approx(0.06)
    few = table.assign(re_presentations_12m=3.0)
    assert treatment.published(few, Published(Rule(5, 5)))["re_presentation_rate"].isna().all()
    assert treatment.published(table, TrueValues()) is table


def test_a_year_against_the_year_before(tmp_path):
    lines = by_substance(12, "2023-04", {"alcohol": (600, 20, 2)})
    lines += by_substance(12, "2024-04", {"alcohol": (600, 30, 2)})[1:]
    latest = treatment.latest_comparison(treatment.rolling(treatment.load(write(tmp_path, lines))))
    row = latest.set_index("substance").loc["alcohol"]
    assert row["completion_rate"] == pytest.approx(0.6) and row["previous_rate"] == pytest.approx(0.4)
    assert row["verdict"] == "significant rise"
    sentence = treatment.comparison_sentence(latest.iloc[0])
    assert sentence.startswith("Alcohol only: 60.0% of 600 in treatment completed successfully in the 12 months "
                               "to March 2025 (360 completions); a year earlier 40.0%: significant rise")
    board = treatment.comparison_sentence(latest.iloc[0], Published(Rule(5, 5)))
    assert board == ("Alcohol only: 60.0% of 600 in treatment completed successfully in the 12 months "
                     "to March 2025 (360 completions); a year earlier 40.0%: significant rise.")   # no p-value
    small = latest.iloc[0].copy()
    small["previous_completions"] = 3
    assert treatment.comparison_sentence(small, Published(Rule(5, 5))).endswith("a year earlier: withheld (small numbers).")


def test_the_board_target_reads_substance_groups_and_quarters(tmp_path):
    monthly = by_substance(12, "2020-04") + by_substance(12, "2024-04")[1:]
    line = briefing._treatment_target(MAINTAIN, briefing.treatment_indicator(write(tmp_path, monthly)), CONFIG)
    assert line.status == "on track"
    assert "480 successful completions of 2,000 in treatment (24.0%)" in line.details[0]
    quarters = ["quarter,in_treatment,successful_completions"]
    quarters += [f"{y}-Q{q},2000,{c}" for y, q, c in [(2020, 2, 120), (2020, 3, 120), (2020, 4, 120),
                                                        (2021, 1, 120), (2024, 2, 100), (2024, 3, 100),
                                                        (2024, 4, 100), (2025, 1, 100)]]
    line = briefing._treatment_target(MAINTAIN, briefing.treatment_indicator(write(tmp_path, quarters)), CONFIG)
    assert line.status == "behind" and "400 successful completions of 2,000" in line.details[0]
    gap = [q for q in quarters if "2020-Q3" not in q]
    line = briefing._treatment_target(MAINTAIN, briefing.treatment_indicator(write(tmp_path, gap)), CONFIG)
    assert line.status == "not measurable" and "lacks 1 quarter(s)" in line.sentence
    synthetic = briefing.treatment_indicator(write(tmp_path, monthly), synthetic=True)
    assert "synthetic" in briefing._treatment_target(MAINTAIN, synthetic, CONFIG).details[2]


HEADER = "month,substance,in_treatment,successful_completions,re_presentations"
BAD = {
    "no period column": (["substance,in_treatment,successful_completions", "opiate,10,1"], 1,
                         "no month or quarter column"),
    "both period columns": (["month,quarter,in_treatment,successful_completions", "2024-01,2024-Q1,10,1"], 1,
                            "not both"),
    "no completions column": (["month,in_treatment", "2024-01,10"], 1, "no successful_completions column"),
    "unknown substance": ([HEADER, "2024-01,cannabis,10,1,"], 2, "substance 'cannabis' is not one of NDTMS's groups"),
    "bad quarter": (["quarter,in_treatment,successful_completions", "2024-Q5,10,1"], 2,
                    "quarter '2024-Q5' is not a quarter written YYYY-Qn"),
    "bad month": ([HEADER, "2024-1,opiate,10,1,"], 2, "month '2024-1' is not a month written YYYY-MM"),
    "completions above in treatment": ([HEADER, "2024-01,opiate,10,11,"], 2,
                                       "11 successful completions is more than the 10 people in treatment"),
    "re-presentations above completions": ([HEADER, "2024-01,opiate,10,3,4"], 2,
                                           "4 re-presentations is more than the 3 successful completions"),
    "a fraction": ([HEADER, "2024-01,opiate,10,2.5,"], 2, "successful_completions '2.5' is not a whole number"),
    "repeated period": ([HEADER, "2024-01,opiate,10,1,", "2024-01,Opiates,10,1,"], 3,
                        "month 2024-01 opiate appears again (first on line 2)"),
    "a group missing in a period": ([HEADER, "2024-01,opiate,10,1,", "2024-01,alcohol,10,1,",
                                     "2024-02,opiate,10,1,"], 4, "Feb 2024 lacks alcohol"),
    "no rows": ([HEADER], None, "the file has a header but no periods"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_file_line_and_reason(tmp_path, case):
    lines, line, reason = BAD[case]
    path = write(tmp_path, lines)
    with pytest.raises(ReferenceFileError) as raised:
        treatment.load(path)
    assert raised.value.path == str(path) and raised.value.line == line and reason in raised.value.reason, \
        str(raised.value)


def test_a_missing_file_names_the_setting(tmp_path):
    with pytest.raises(ReferenceFileError, match="does not exist .check CDP_TREATMENT"):
        treatment.load(tmp_path / "missing.csv")
    indicator = treatment.indicator(tmp_path / "missing.csv")
    assert indicator.frame is None and "does not exist" in indicator.error
    assert treatment.indicator(None) == treatment.TreatmentIndicator(None)
