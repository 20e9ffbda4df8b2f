"""Proven reoffending: the MoJ file, its measures and tests on hand-checkable figures, bad input."""
from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from cdp import reoffending
from cdp.disclosure import Published, Rule
from cdp.reference import ReferenceFileError

HEADER = ("cohort_start,cohort_end,area,offender_type,offenders,reoffenders,reoffences,"
          "proportion_reoffending,reoffences_per_reoffender")
# Nottingham 30 of 100 adults against England and Wales 230 of 1,100 (the rest: 200 of 1,000).
GOOD = [
    "2022-01,2022-03,Nottingham,adult,100,30,120,30.0,4.00",
    "2022-01,2022-03,England and Wales,adult,1100,230,800,20.9,3.48",
    "2023-01,2023-03,Nottingham,adult,100,20,70,20.0,3.50",
    "2023-01,2023-03,England and Wales,adult,\"1,100\",220,760,20.0,3.45",
    "2023-01,2023-03,Nottingham,Juveniles,40,16,60,,",
]


def write(tmp_path, rows, header=HEADER, name="reoffending.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_the_file_is_read_with_england_and_wales_beside(tmp_path):
    frame = reoffending.load_reoffending(write(tmp_path, GOOD))
    assert len(frame) == 5 and frame["national"].sum() == 2
    assert set(frame.loc[~frame["national"], "area"]) == {"Nottingham"}
    assert frame.loc[frame["offender_type"] == "juvenile", "offenders"].tolist() == [40]
    assert frame.loc[frame["national"], "offenders"].tolist() == [1100, 1100]  # "1,100" read
    assert frame["cohort_start"].min() == date(2022, 1, 1)


def test_measures_and_tests_on_hand_checkable_figures(tmp_path):
    table = reoffending.cohorts(reoffending.load_reoffending(write(tmp_path, GOOD)))
    first = table.iloc[0]
    assert first["cohort"] == "Jan to Mar 2022" and first["proportion"] == 0.3
    assert first["reoffences_per_reoffender"] == 4.0
    assert first["rest_proportion"] == pytest.approx(0.2)
    # Pooled z-test: p = 230/1100, z = 0.1 / sqrt(p(1-p)(1/100 + 1/1000)) = 2.3446, two-sided p = 0.0190.
    pooled = 230 / 1100
    z = 0.1 / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 1000))
    assert z == pytest.approx(2.3446, abs=1e-4)
    assert first["vs_ew_p"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert first["vs_ew"] == "significantly higher"
    # Wilson 95% interval of 30/100: 0.2189 to 0.3958.
    assert (first["ci_low"], first["ci_high"]) == (pytest.approx(0.2189, abs=1e-4), pytest.approx(0.3958, abs=1e-4))
    later = table.iloc[1]
    assert later["year_earlier"] == 0.3 and later["vs_year"] == "no significant change"   # 20/100 vs 30/100: p = 0.10
    assert later["vs_ew"] == "not significantly different"  # 20/100 against 200/1000
    juvenile = table[table["offender_type"] == "juvenile"].iloc[0]
    assert juvenile["proportion"] == 0.4 and pd.isna(juvenile["vs_ew"]) and pd.isna(juvenile["year_earlier"])


def test_latest_sentence_and_board_view(tmp_path):
    table = reoffending.cohorts(reoffending.load_reoffending(write(tmp_path, GOOD)))
    sentence = reoffending.latest_sentence(table, "adult")
    assert sentence.startswith("Adult offenders, Jan to Mar 2023 cohort: 20.0% reoffended within a year (20 of 100")
    assert "Against the same months a year earlier (30.0%): no significant change" in sentence
    small = reoffending.cohorts(reoffending.load_reoffending(write(tmp_path, [
        "2023-01,2023-03,Nottingham,juvenile,12,3,5,25.0,1.67"])))
    board, P = reoffending.published(small, Published(Rule(5, 5))), Published(Rule(5, 5))
    assert reoffending.latest_sentence(board, "juvenile", P).endswith("withheld (small numbers).")
    shown = reoffending.display_table(board, P).iloc[0]
    assert shown["Reoffenders"] == "<5" and shown["Proportion reoffending"] == "*"
    assert shown["In the cohort"] == "10" and shown["Reoffences"] == "5"
    assert reoffending.display_table(small).iloc[0]["Proportion reoffending"] == "25.0%"
    figure = reoffending.trend_figure(board, "juvenile")
    assert not any(len(trace.x or ()) for trace in figure.data)  # the withheld cohort is not drawn
    # Publishable cohorts: the proportion from the published counts (20 of 100; 30 of 100 a year
    # earlier), the tests as verdicts without p-values, no "rest of England and Wales".
    adult = reoffending.published(table, P)
    latest = reoffending.latest_sentence(adult, "adult", P)
    assert latest.startswith("Adult offenders, Jan to Mar 2023 cohort: 20.0% reoffended within a year (20 of 100")
    assert "p =" not in latest and "p <" not in latest
    assert "Against the same months a year earlier (30.0%): no significant change." in latest
    assert "Against the rest of England and Wales: not significantly different." in latest


def test_several_local_authorities_need_one_chosen(tmp_path):
    rows = GOOD + ["2023-01,2023-03,Derby,adult,90,27,80,30.0,2.96"]
    path = write(tmp_path, rows)
    with pytest.raises(ReferenceFileError, match="holds 2 local authorities .*CDP_REOFFENDING_AREA"):
        reoffending.load_reoffending(path)
    derby = reoffending.load_reoffending(path, area="derby")
    assert set(derby.loc[~derby["national"], "area"]) == {"Derby"} and derby["national"].sum() == 2
    with pytest.raises(ReferenceFileError, match="no rows for the area 'Leicester'"):
        reoffending.load_reoffending(path, area="Leicester")


BAD = {
    "no reoffences column": (HEADER.replace(",reoffences,", ",offences,"), GOOD[:1], 1, "no reoffences column"),
    "month not YYYY-MM": (HEADER, GOOD[:1] + ["Jan 2023,2023-03,Nottingham,adult,100,20,70,,"], 3,
                          "cohort_start 'Jan 2023' is not a month written YYYY-MM"),
    "end before start": (HEADER, ["2023-03,2023-01,Nottingham,adult,100,20,70,,"], 2, "is before cohort_start"),
    "cohort too long": (HEADER, ["2022-01,2023-03,Nottingham,adult,100,20,70,,"], 2, "longer than 12 months"),
    "unknown type": (HEADER, ["2023-01,2023-03,Nottingham,adults and juveniles,100,20,70,,"], 2,
                     "is not adult or juvenile"),
    "blank area": (HEADER, ["2023-01,2023-03,,adult,100,20,70,,"], 2, "the area is empty"),
    "negative count": (HEADER, ["2023-01,2023-03,Nottingham,adult,-100,20,70,,"], 2,
                       "offenders '-100' is not a whole number"),
    "more reoffenders than offenders": (HEADER, ["2023-01,2023-03,Nottingham,adult,10,20,70,,"], 2,
                                        "20 reoffenders is more than the 10 offenders"),
    "fewer reoffences than reoffenders": (HEADER, ["2023-01,2023-03,Nottingham,adult,100,20,10,,"], 2,
                                          "10 reoffences is fewer than the 20 reoffenders"),
    "published proportion disagrees": (HEADER, ["2023-01,2023-03,Nottingham,adult,100,20,70,25.0,"], 2,
                                       "proportion_reoffending 25.0 does not match the counts, which give 20.0"),
    "proportion as a share": (HEADER, ["2023-01,2023-03,Nottingham,adult,100,20,70,0.200,"], 2,
                              "write the percentage"),
    "per reoffender disagrees": (HEADER, ["2023-01,2023-03,Nottingham,adult,100,20,70,,3.9"], 2,
                                 "reoffences_per_reoffender 3.9 does not match the counts, which give 3.5"),
    "cohort twice": (HEADER, GOOD[:1] + ["2022-01,2022-03,Nottingham,adult,100,20,70,,"], 3,
                     "appears again (first on line 2)"),
    "cohorts overlap": (HEADER, ["2022-01,2022-03,Nottingham,adult,100,20,70,,",
                                 "2022-01,2022-12,Nottingham,adult,400,90,300,,"], 3, "overlaps Jan to Mar 2022 on line 2"),
    "national smaller than local": (HEADER, ["2022-01,2022-03,Nottingham,adult,100,20,70,,",
                                             "2022-01,2022-03,England and Wales,adult,50,10,30,,"], 3,
                                    "the national figures include the local ones"),
    "too many values": (HEADER, ["2023-01,2023-03,Nottingham,adult,100,20,70,,,extra"], 2,
                        "more values than the 9 header columns"),
    "only England and Wales": (HEADER, [GOOD[1]], None, "only England and Wales rows"),
    "no rows": (HEADER, [], None, "the file has a header but no cohorts"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_file_line_and_reason(tmp_path, case):
    header, rows, line, reason = BAD[case]
    path = write(tmp_path, rows, header)
    with pytest.raises(ReferenceFileError) as raised:
        reoffending.load_reoffending(path)
    error = raised.value
    assert error.path == str(path) and error.line == line and reason in error.reason, str(error)
    assert str(error).startswith(f"{path}, line {line}: " if line else f"{path}: ")


def test_unreadable_files(tmp_path):
    with pytest.raises(ReferenceFileError, match="no such file"):
        reoffending.load_reoffending(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes((HEADER + "\n2023-01,2023-03,N\xeemes,adult,1,0,0,,\n").encode("latin-1"))
    with pytest.raises(ReferenceFileError, match="not UTF-8"):
        reoffending.load_reoffending(latin)
