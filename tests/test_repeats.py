"""Repeat victims, time to the next incident, escalation and repeat places on hand-worked data."""
from __future__ import annotations

import pandas as pd
import pytest

from cdp.repeats import (escalation_victims, place_keys, repeat_places, repeat_rate_for_target,
                         repeat_rates_by, time_to_next, victim_summary)

PERIOD = ("2024-01-01", "2024-12-31")


def incidents(rows: list[tuple], **columns) -> pd.DataFrame:
    """Rows of (victim_id, occurred_at); occurred_at "YYYY-MM" means only the month is known."""
    frame = pd.DataFrame(rows, columns=["victim_id", "when"])
    frame["victim_id"] = frame["victim_id"].astype("string")
    month_only = frame["when"].str.len() == 7
    frame["month"] = pd.to_datetime(frame["when"].str[:7] + "-01")
    frame["occurred_at"] = pd.to_datetime(frame["when"].where(~month_only), format="ISO8601")
    for name, values in columns.items():
        frame[name] = values
    return frame.drop(columns="when")


VICTIMS = incidents([
    ("a", "2023-12-20"), ("a", "2024-01-05"),             # 16 days apart across the year end
    ("b", "2024-03-01"),                                   # one incident only
    ("c", "2023-03-01"), ("c", "2024-02-29"),             # exactly 365 days apart (leap year)
    ("d", "2023-03-01"), ("d", "2024-03-01"),             # 366 days apart
    ("e", "2024-05-05T09:00"), ("e", "2024-05-05T18:00"),  # same day: two incidents
    ("f", "2024-12-20"), ("f", "2025-01-03"),             # the second is after the period
    ("g", "2022-06-01"), ("g", "2024-01-10"),             # the first is before the look-back
    ("h", "2024-02-01"), ("h", "2024-06-01"), ("h", "2024-12-31"),  # 3 within 334 days
    ("i", "2024-07"), ("i", "2024-07-20"),                 # month only -> 1 July, 19 days apart
    (None, "2024-04-01"), (None, "2024-04-02"),           # no victim recorded: left out
])


def test_victim_summary_hand_counted():
    # Victims with an incident in 2024: a b c d e f g h i = 9.
    # Repeats: a (16 days), c (365 days: inside), e (same day), h (3), i (19 days) = 5;
    # not d (366 days), f (later incident is after the period), g (first is 588 days before), b.
    # High-frequency: h only. In-period incidents with a victim: a1 b1 c1 d1 e2 f1 g1 h3 i2 = 13,
    # of which to repeat victims: a1 + c1 + e2 + h3 + i2 = 9.
    summary = victim_summary(VICTIMS, *PERIOD)
    assert summary["victims"] == 9
    assert summary["repeat_victims"] == 5
    assert summary["high_frequency_victims"] == 1
    assert summary["repeat_share"] == pytest.approx(5 / 9)
    assert summary["high_frequency_share"] == pytest.approx(1 / 9)
    assert (summary["incidents"], summary["incidents_to_repeat_victims"]) == (13, 9)
    assert summary["repeat_incident_share"] == pytest.approx(9 / 13)
    assert "365 days apart counts, 366 does not" in summary["definition"]


@pytest.mark.parametrize("rows, is_repeat", [
    ([("x", "2023-12-20"), ("x", "2024-01-05")], True),    # across the year end
    ([("x", "2024-06-01T08:00"), ("x", "2024-06-01T08:00")], True),  # same moment counts as 2
    ([("x", "2024-06-01")], False),                          # a single incident
    ([("x", "2023-03-01"), ("x", "2024-02-29")], True),      # 365 days apart: a repeat
    ([("x", "2023-03-01"), ("x", "2024-03-01")], False),     # 366 days apart: not
])
def test_repeat_boundaries(rows, is_repeat):
    assert victim_summary(incidents(rows), *PERIOD)["repeat_victims"] == int(is_repeat)


def test_thresholds_are_parameters():
    pair = incidents([("x", "2023-12-20"), ("x", "2024-01-05")])  # 16 days apart
    assert victim_summary(pair, *PERIOD, window_days=16)["repeat_victims"] == 1
    assert victim_summary(pair, *PERIOD, window_days=15)["repeat_victims"] == 0
    assert victim_summary(pair, *PERIOD, repeat=3)["repeat_victims"] == 0
    assert victim_summary(pair, *PERIOD, high_frequency=2)["high_frequency_victims"] == 1


def test_no_victims():
    summary = victim_summary(incidents([(None, "2024-01-01")]), *PERIOD)
    assert summary["victims"] == 0 and summary["repeat_share"] is None


def test_repeat_rate_for_target():
    # All incidents (priority=None): victims 9, of whom 5 had an earlier incident within 365 days
    # before an in-period one (the same five as above). Incident-based: a's 5 Jan, c's 29 Feb,
    # e's second, h's June and December, i's 20 July = 6 of 13.
    result = repeat_rate_for_target(VICTIMS, *PERIOD, priority=None)
    assert (result["numerator"], result["denominator"]) == (5, 9)
    assert result["rate"] == pytest.approx(5 / 9)
    assert (result["repeat_incidents"], result["incidents"]) == (6, 13)
    assert "365 days before" in result["definition"]


def test_repeat_rate_for_target_counts_only_the_priority():
    # a's December 2023 incident is not a hate crime, so a is no longer a repeat hate crime victim.
    flags = [True] * len(VICTIMS)
    flags[0] = False
    result = repeat_rate_for_target(VICTIMS.assign(p_hate_crime=flags), *PERIOD)
    assert (result["numerator"], result["denominator"]) == (4, 9)
    assert "hate crime incidents" in result["definition"]


def test_time_to_next_kaplan_meier():
    # Data end 31 Jan 2024. Follow-ups (days, repeat?): x 1 Jan -> 11 Jan (10, yes),
    # 11 Jan -> 31 Jan (20, yes), 31 Jan (0, censored); y 1 Jan (30, censored);
    # z 21 Jan twice: first (0, yes), second (10, censored).
    # KM: day 0: 6 at risk, 1 repeat -> 5/6; day 10: 4 at risk, 1 -> 5/6*3/4 = 0.625;
    # day 20: 2 at risk, 1 -> 0.3125.
    data = incidents([("x", "2024-01-01"), ("x", "2024-01-11"), ("x", "2024-01-31"),
                      ("y", "2024-01-01"), ("z", "2024-01-21T10:00"), ("z", "2024-01-21T11:00")])
    curve = time_to_next(data)
    assert curve["days"].tolist() == [0, 10, 20]
    assert curve["survival"].tolist() == pytest.approx([5 / 6, 0.625, 0.3125])
    assert curve["at_risk"].tolist() == [6, 4, 2]
    assert curve["repeats"].tolist() == [1, 1, 1]
    assert (curve["ci_low"] < curve["survival"]).all() and (curve["survival"] < curve["ci_high"]).all()
    # Starting only from January's incidents after the 15th: z's two (0 yes, 10 censored) and
    # x's 31 Jan (0 censored): day 0: 3 at risk, 1 repeat -> 2/3.
    late = time_to_next(data, period_start="2024-01-15")
    assert late["survival"].tolist() == pytest.approx([2 / 3])


def test_repeat_rates_by_group():
    # v1: W1 (Mar) and W2 (Apr) -> a repeat counted in both wards; v2: W1 once; v3: no ward,
    # two days running; v4: W2 in Feb 2024 after W2 in June 2023 (245 days) -> a repeat.
    # W1: v1 v2 -> 1 of 2; W2: v1 v4 -> 2 of 2; missing ward: v3 -> 1 of 1.
    data = incidents([("v1", "2024-03-01"), ("v1", "2024-04-01"), ("v2", "2024-05-01"),
                      ("v3", "2024-06-01"), ("v3", "2024-06-02"), ("v4", "2023-06-01"),
                      ("v4", "2024-02-01")],
                     ward_code=pd.array(["W1", "W2", "W1", None, None, "W2", "W2"], dtype="string"))
    table = repeat_rates_by(data, "ward_code", *PERIOD)
    assert list(table.columns) == ["ward_code", "victims", "repeat_victims",
                                   "high_frequency_victims", "rate"]
    by_ward = table.set_index("ward_code")
    assert by_ward.loc["W1", ["victims", "repeat_victims"]].tolist() == [2, 1]
    assert by_ward.loc["W2", ["victims", "repeat_victims"]].tolist() == [2, 2]
    assert by_ward.loc["W1", "rate"] == 0.5
    missing = table[table["ward_code"].isna()].iloc[0]
    assert (missing["victims"], missing["repeat_victims"]) == (1, 1)


def test_repeat_rates_by_vulnerability():
    data = incidents([("v1", "2024-03-01"), ("v1", "2024-04-01"), ("v2", "2024-05-01")],
                     victim_vulnerable=pd.array([True, True, False], dtype="boolean"))
    table = repeat_rates_by(data, "victim_vulnerable", *PERIOD).set_index("victim_vulnerable")
    assert table.loc[True, "rate"] == 1.0 and table.loc[False, "rate"] == 0.0


def test_escalation_victims():
    # m: 3 incidents, first to last 364 days -> in; r: 365 days -> in (boundary inclusive);
    # n: 366 days -> at most 2 in any window -> out; o: 3 incidents but one not domestic -> out;
    # q: 4 on consecutive days in March 2024 (and one in 2022) -> 4 in the window, 5 in all.
    rows = [("m", "2023-01-10"), ("m", "2023-06-01"), ("m", "2024-01-09"),
            ("r", "2023-01-10"), ("r", "2023-06-01"), ("r", "2024-01-10"),
            ("n", "2023-01-10"), ("n", "2023-06-01"), ("n", "2024-01-11"),
            ("o", "2024-01-01"), ("o", "2024-01-02"), ("o", "2024-01-03"),
            ("q", "2022-01-01"), ("q", "2024-03-01"), ("q", "2024-03-02"), ("q", "2024-03-03"),
            ("q", "2024-03-04")]
    flags = [True] * len(rows)
    flags[10] = False  # o's second
    result = escalation_victims(incidents(rows, flag_domestic_abuse=flags))
    assert list(result.columns) == ["victim_id", "incidents_in_window", "first", "last", "total_incidents"]
    assert result["victim_id"].tolist() == ["q", "r", "m"]  # newest last incident first
    assert result["incidents_in_window"].tolist() == [4, 3, 3]
    assert result["total_incidents"].tolist() == [5, 3, 3]
    assert result["first"].tolist() == pd.to_datetime(["2024-03-01", "2023-01-10", "2023-01-10"]).tolist()
    assert result["last"].tolist() == pd.to_datetime(["2024-03-04", "2024-01-10", "2024-01-09"]).tolist()
    assert escalation_victims(incidents(rows, flag_domestic_abuse=flags), threshold=5).empty


# --- repeat places -------------------------------------------------------------------------------

def places_frame() -> pd.DataFrame:
    """Month-only incidents (as police.uk gives them) at a pub, a street point and elsewhere."""
    crown = dict(premises_id="P1", premises_name="The Crown", premises_type="licensed premises",
                 location="On or near High Street", easting=457000.2, northing=340000.4, ward_code="W1")
    park = dict(premises_id=None, premises_name=None, premises_type=None,
                location="On or near Park Road", ward_code="W2")
    rows = [
        dict(crown, month="2024-01", p_asb=True, p_drugs_alcohol=False),
        dict(crown, month="2024-08", p_asb=False, p_drugs_alcohol=True),
        dict(crown, month="2024-09", p_asb=True, p_drugs_alcohol=True, premises_name=None),
        # 456000.4 / 340999.6 round to the same metre as 456000 / 341000
        dict(park, month="2024-03", easting=456000.4, northing=340999.6, p_asb=True, p_drugs_alcohol=False),
        dict(park, month="2024-04", easting=456000.0, northing=341000.0, p_asb=True, p_drugs_alcohol=False),
        dict(park, month="2023-12", easting=456000.0, northing=341000.0, p_asb=True, p_drugs_alcohol=False),
        dict(park, month="2024-05", location="Market Square", easting=None, northing=None,
             p_asb=True, p_drugs_alcohol=False),
        dict(park, month="2024-06", location="Market Square", easting=None, northing=None,
             p_asb=True, p_drugs_alcohol=False),
        dict(park, month="2024-12", location="On or near Elm Street", easting=450000.0,
             northing=342000.0, p_asb=True, p_drugs_alcohol=False),
    ]
    frame = pd.DataFrame(rows)
    frame["month"] = pd.to_datetime(frame["month"] + "-01")
    frame["occurred_at"] = pd.NaT
    return frame


def test_place_keys():
    keys = place_keys(places_frame())
    assert keys.tolist()[:5] == ["premises:P1"] * 3 + ["point:456000,341000"] * 2
    assert keys.iat[6] == "location:market square"  # the street key: one per street, any spelling
    assert place_keys(places_frame(), by="point").iat[0] == "point:457000,340000"
    spellings = pd.DataFrame({"location": ["On or near Market Street", "Market Street",
                                           "  market   STREET ", "On or near Elm Street"]})
    assert place_keys(spellings).tolist() == ["location:market street"] * 3 + ["location:elm street"]


YEAR_2024 = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31"))


def test_repeat_places():
    # 2 or more incidents within 365 days of each other, one of them in 2024 (earlier ones up
    # to 365 days before count). The Crown: 3 in 2024 (Jan, Aug, Sep; ASB 2, drugs/alcohol 2).
    # Park Road point: 2 in 2024 (Mar, Apr) and December 2023. Market Square (text only): 2 (May,
    # Jun). Elm Street: 1 -> not a repeat place. Ties on incidents: latest first.
    places = repeat_places(places_frame(), *YEAR_2024)
    assert places["place_key"].tolist() == ["premises:P1", "location:market square",
                                            "point:456000,341000"]
    crown = places.iloc[0]
    assert crown["label"] == "The Crown" and crown["premises_type"] == "licensed premises"
    assert crown["ward_code"] == "W1"
    assert (crown["incidents"], crown["peak"]) == (3, 3)
    assert (crown["n_asb"], crown["n_drugs_alcohol"]) == (2, 2)
    assert crown["priorities"] == "Anti-social behaviour 2, Drugs and alcohol 2"
    assert (crown["first"], crown["last"]) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-09-01"))
    park = places.iloc[2]
    assert park["label"] == "Park Road"  # the street, read without police.uk's "On or near"
    assert (park["incidents"], park["peak"]) == (2, 3)  # December 2023 is within 365 days
    assert park["priorities"] == "Anti-social behaviour 2"


def test_repeat_places_options():
    by_point = repeat_places(places_frame(), *YEAR_2024, by="point")
    assert by_point["place_key"].iat[0] == "point:457000,340000"
    assert by_point["label"].iat[0] == "High Street"
    assert repeat_places(places_frame(), *YEAR_2024, min_incidents=3)["place_key"].tolist() == [
        "premises:P1", "point:456000,341000"]
    # March to April 2024: Park Road has Dec 2023 before it and Mar, Apr 2024 in it; The Crown's
    # January incident is before the period and its next is August: not a repeat in the period.
    spring = repeat_places(places_frame(), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-30"))
    assert spring["place_key"].tolist() == ["point:456000,341000"]
    assert spring["incidents"].iat[0] == 2
    # Within 90 days only: The Crown's August and September, Park Road's March and April.
    short = repeat_places(places_frame(), *YEAR_2024, window_days=90)
    assert set(short["place_key"]) == {"premises:P1", "point:456000,341000", "location:market square"}
