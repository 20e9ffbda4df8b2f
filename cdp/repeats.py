"""Repeat victimisation, repeat places and domestic abuse escalation (DESIGN.md definitions).

Dates: an incident's date is the calendar day of `occurred_at`, or the first of its `month` when
only the month is known. Two incidents are "within 365 days" when their dates are at most
`window_days` apart: 365 days apart counts, 366 does not; two on the same day count as two.
Person keys are pseudonymous; rows without a `victim_id` are left out of victim measures.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight
from scipy.stats import norm

from . import places
from .priorities import PRIORITY_BY_KEY, PRIORITY_COLUMNS, priority_column
from .targets import Definitions

# DESIGN.md's definitions; the pages pass the targets file's (cdp.targets.definitions()).
WINDOW_DAYS = Definitions.window_days
REPEAT = Definitions.repeat
HIGH_FREQUENCY = Definitions.high_frequency
ESCALATION = Definitions.escalation


def _incident_times(incidents: pd.DataFrame) -> pd.Series:
    """`occurred_at` where known, else the first of `month`."""
    month = pd.to_datetime(incidents["month"])
    if "occurred_at" not in incidents:
        return month
    return pd.to_datetime(incidents["occurred_at"]).fillna(month)


def incident_dates(incidents: pd.DataFrame) -> pd.Series:
    """Each incident's date: the day of `occurred_at` when known, else the first of `month`."""
    return _incident_times(incidents).dt.normalize()


def _victim_events(incidents: pd.DataFrame, extra: list[str] | tuple = ()) -> pd.DataFrame:
    """Incidents with a victim, one row each, sorted by victim and time, with `date` and `day`."""
    ids = incidents["victim_id"].astype("string").str.strip()
    when = _incident_times(incidents)
    events = pd.DataFrame({"victim_id": ids, "when": when, "date": when.dt.normalize(),
                           **{column: incidents[column] for column in extra}})
    events = events[ids.notna() & (ids != "")]
    events = events.sort_values(["victim_id", "when"], kind="stable").reset_index(drop=True)
    events["day"] = events["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return events


def _trailing_window(events: pd.DataFrame, window_days: int) -> tuple[np.ndarray, np.ndarray]:
    """For each event (sorted by victim, time): how many of the same victim's events fall in the
    `window_days` days up to and including it (this one and earlier ones), and the position of
    the earliest of them."""
    if events.empty:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes = pd.factorize(events["victim_id"])[0].astype(np.int64)  # increasing: rows are sorted
    day = events["day"].to_numpy() - events["day"].min()
    key = codes * (int(day.max()) + window_days + 1) + day       # one block of days per victim
    first = np.searchsorted(key, key - window_days, side="left")
    return np.arange(len(key)) - first + 1, first


def _bounds(period_start, period_end) -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp(period_start).normalize(), pd.Timestamp(period_end).normalize()


def _period_peaks(incidents: pd.DataFrame, period_start, period_end, window_days: int,
                  extra: list[str] | tuple = ()) -> tuple[pd.DataFrame, pd.Series]:
    """In-period incidents with `in_window` (trailing count), and each victim's peak count."""
    start, end = _bounds(period_start, period_end)
    events = _victim_events(incidents, extra)
    events = events[(events["date"] >= start - pd.Timedelta(days=window_days))
                    & (events["date"] <= end)].reset_index(drop=True)
    events["in_window"] = _trailing_window(events, window_days)[0]
    in_period = events[events["date"] >= start]
    return in_period, in_period.groupby("victim_id")["in_window"].max()


def victim_peaks(incidents: pd.DataFrame, period_start, period_end,
                 window_days: int = WINDOW_DAYS) -> pd.Series:
    """Each victim with an in-period incident: the most incidents they had in any `window_days`
    days ending at one of their in-period incidents (>= 2 makes a repeat victim)."""
    return _period_peaks(incidents, period_start, period_end, window_days)[1]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def repeat_definition(window_days: int = WINDOW_DAYS, repeat: int = REPEAT,
                      high_frequency: int = HIGH_FREQUENCY) -> str:
    """The repeat-victim definition in words, for the page to display."""
    return (
        f"A victim is a distinct pseudonymous victim ID with at least one incident dated in the period "
        f"(incidents with no victim recorded are left out). A repeat victim has {repeat} or more "
        f"incidents within {window_days} days of each other (first to last at most {window_days} days "
        f"apart: {window_days} days apart counts, {window_days + 1} does not; two on one day count as "
        f"two), at least one of them in the period; earlier incidents up to {window_days} days before "
        f"the period start count, later ones after the period end do not. High-frequency: "
        f"{high_frequency} or more. An incident's date is its day, or the first of the month when only "
        f"the month is known.")


def victim_summary(incidents: pd.DataFrame, period_start, period_end, window_days: int = WINDOW_DAYS,
                   repeat: int = REPEAT, high_frequency: int = HIGH_FREQUENCY) -> dict:
    """Victims, repeat and high-frequency victims in a period (both ends inclusive days).

    Returns victims, repeat_victims, high_frequency_victims, repeat_share,
    high_frequency_share (shares of victims; None if no victims), incidents (in-period incidents
    with a victim), incidents_to_repeat_victims, repeat_incident_share and the `definition`
    (see `repeat_definition`).
    """
    in_period, peaks = _period_peaks(incidents, period_start, period_end, window_days)
    repeat_victims = int((peaks >= repeat).sum())
    high = int((peaks >= high_frequency).sum())
    to_repeat = int((in_period["victim_id"].map(peaks) >= repeat).sum())
    return summary_figures(len(peaks), repeat_victims, high, len(in_period), to_repeat, window_days,
                           repeat, high_frequency)


def summary_figures(victims: int, repeat_victims: int, high_frequency_victims: int, incidents: int,
                    incidents_to_repeat_victims: int, window_days: int = WINDOW_DAYS,
                    repeat: int = REPEAT, high_frequency: int = HIGH_FREQUENCY) -> dict:
    """`victim_summary`'s result from its counts (also counted in the store: cdp.repeat_windows)."""
    return {
        "victims": victims, "repeat_victims": repeat_victims, "high_frequency_victims": high_frequency_victims,
        "repeat_share": _share(repeat_victims, victims),
        "high_frequency_share": _share(high_frequency_victims, victims),
        "incidents": incidents, "incidents_to_repeat_victims": incidents_to_repeat_victims,
        "repeat_incident_share": _share(incidents_to_repeat_victims, incidents),
        "definition": repeat_definition(window_days, repeat, high_frequency),
    }


def repeat_rate_for_target(incidents: pd.DataFrame, period_start, period_end,
                           window_days: int = WINDOW_DAYS, priority: str | None = "hate_crime") -> dict:
    """The repeat victimisation rate behind "reduce hate crime repeat victimisation by 10%".

    Of the victims with an incident in the period (the denominator), the share (rate) who had
    another incident of the same priority in the `window_days` days before one of their in-period
    incidents (the numerator; the same day and exactly `window_days` days before count). Also the
    incident-based rate: in-period incidents whose victim had an incident in the `window_days`
    before. Incidents are those of `priority` (None: all incidents passed in).
    """
    if priority is not None:
        incidents = incidents[incidents[priority_column(priority)].fillna(False).astype(bool)]
    in_period, peaks = _period_peaks(incidents, period_start, period_end, window_days)
    return target_rate_figures(int((peaks >= 2).sum()), len(peaks), int((in_period["in_window"] >= 2).sum()),
                               len(in_period), window_days, priority)


def target_rate_figures(numerator: int, denominator: int, repeat_incidents: int, incidents: int,
                        window_days: int = WINDOW_DAYS, priority: str | None = "hate_crime") -> dict:
    """`repeat_rate_for_target`'s result from its counts (also counted in the store:
    cdp.repeat_windows)."""
    kind = f"{PRIORITY_BY_KEY[priority].label.lower()} " if priority else ""
    return {
        "numerator": numerator, "denominator": denominator, "rate": _share(numerator, denominator),
        "repeat_incidents": repeat_incidents, "incidents": incidents,
        "incident_rate": _share(repeat_incidents, incidents),
        "definition": (
            f"Repeat victimisation rate: of the victims of {kind}incidents in the period, the share "
            f"who had also been the victim of another {kind}incident in the {window_days} days before "
            f"one of their incidents in the period (one on the same day or exactly {window_days} days "
            f"earlier counts). Victims are pseudonymous IDs; incidents with no "
            f"victim recorded are left out."),
    }


CURVE_COLUMNS = ["days", "survival", "ci_low", "ci_high", "at_risk", "repeats"]


def time_to_next(incidents: pd.DataFrame, period_start=None, period_end=None, data_end=None,
                 confidence: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier curve of the days from an incident to the same victim's next incident.

    Each incident with a victim (dated in the period, if given) starts a follow-up; it ends at the
    victim's next incident (an event, 0 days when on the same day) or is censored at `data_end`
    (default: the latest incident date in the data). Columns: days, survival (share with no repeat
    yet, just after `days`), ci_low, ci_high (pointwise log-log interval from Greenwood's standard
    error), at_risk, repeats. Survival is 1 before the first listed day.
    """
    end = (incident_dates(incidents).max() if data_end is None
           else pd.Timestamp(data_end).normalize())
    events = _victim_events(incidents)
    events = events[events["date"] <= end].reset_index(drop=True)
    if events.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    same_victim = events["victim_id"].eq(events["victim_id"].shift(-1))
    next_day = events["day"].shift(-1).where(same_victim)
    end_day = np.datetime64(end, "D").astype(np.int64)
    follow = pd.DataFrame({"date": events["date"], "repeat": next_day.notna(),
                           "days": next_day.fillna(end_day) - events["day"]})
    if period_start is not None:
        follow = follow[follow["date"] >= pd.Timestamp(period_start).normalize()]
    if period_end is not None:
        follow = follow[follow["date"] <= pd.Timestamp(period_end).normalize()]
    return survival_curve(follow["days"].to_numpy(float), follow["repeat"].to_numpy(int), confidence)


def survival_curve(days: np.ndarray, repeat: np.ndarray, confidence: float = 0.95) -> pd.DataFrame:
    """The Kaplan-Meier curve of `time_to_next` from its follow-ups: each one's days (to the next
    incident, or to censoring) and whether it ended in a repeat (1) or was censored (0). The
    curve depends on the follow-ups alone, not on their order."""
    if len(days) == 0 or not np.any(repeat):
        return pd.DataFrame(columns=CURVE_COLUMNS)
    fit = SurvfuncRight(days, repeat)
    s, se = fit.surv_prob, fit.surv_prob_se
    z = norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = z * se / (s * np.abs(np.log(s)))
        low, high = s ** np.exp(spread), s ** np.exp(-spread)
    return pd.DataFrame({"days": fit.surv_times.astype(int), "survival": s,
                         "ci_low": np.where(s >= 1, 1.0, low), "ci_high": np.where(s >= 1, 1.0, high),
                         "at_risk": fit.n_risk.astype(int), "repeats": fit.n_events.astype(int)})


def repeat_rates_by(incidents: pd.DataFrame, column: str, period_start, period_end,
                    window_days: int = WINDOW_DAYS, repeat: int = REPEAT,
                    high_frequency: int = HIGH_FREQUENCY) -> pd.DataFrame:
    """Victims and repeat victims per value of `column` (e.g. ward_code, victim_age_band).

    A victim counts in every group where they had an in-period incident, with their repeat status
    taken over all their incidents (as in `victim_summary`), so group victims can add up to more
    than the total. Missing values form their own group. Columns: `column`, victims,
    repeat_victims, high_frequency_victims, rate (repeat_victims / victims).
    """
    return repeat_rates_by_columns(incidents, [column], period_start, period_end, window_days,
                                   repeat, high_frequency)[column]


def repeat_rates_by_columns(incidents: pd.DataFrame, columns: list[str], period_start, period_end,
                            window_days: int = WINDOW_DAYS, repeat: int = REPEAT,
                            high_frequency: int = HIGH_FREQUENCY) -> dict[str, pd.DataFrame]:
    """`repeat_rates_by` for several columns at once, finding each victim's peak only once."""
    in_period, peaks = _period_peaks(incidents, period_start, period_end, window_days, columns)
    peak = in_period["victim_id"].map(peaks)  # a hash lookup: much faster than isin on strings
    flagged = in_period.assign(repeat=peak >= repeat, high=peak >= high_frequency)
    tables = {}
    for column in columns:
        pairs = flagged[["victim_id", column, "repeat", "high"]].drop_duplicates(["victim_id", column])
        table = pairs.groupby(column, dropna=False, sort=True).agg(
            victims=("victim_id", "size"), repeat_victims=("repeat", "sum"),
            high_frequency_victims=("high", "sum")).reset_index()
        table["rate"] = table["repeat_victims"] / table["victims"]
        tables[column] = table
    return tables


def escalation_victims(incidents: pd.DataFrame, threshold: int = ESCALATION,
                       window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Domestic abuse "potential escalation": victims with `threshold` or more incidents flagged
    `flag_domestic_abuse` within `window_days` days (MARAC practice).

    Columns: victim_id, incidents_in_window (the most in any such window), first and last (dates of
    the first and last incident of that window; the latest one if several tie), total_incidents.
    Sorted by last, newest first.
    """
    columns = ["victim_id", "incidents_in_window", "first", "last", "total_incidents"]
    flagged = incidents[incidents["flag_domestic_abuse"].fillna(False).astype(bool)]
    events = _victim_events(flagged)
    counts, first = _trailing_window(events, window_days)
    events = events.assign(in_window=counts, first=events["date"].to_numpy()[first],
                           total_incidents=events.groupby("victim_id")["day"].transform("size"))
    peak = events.sort_values(["in_window", "when"], kind="stable").groupby("victim_id").tail(1)
    peak = peak[peak["in_window"] >= threshold].rename(
        columns={"in_window": "incidents_in_window", "date": "last"})
    return peak[columns].sort_values(["last", "incidents_in_window"], ascending=False).reset_index(drop=True)


# --- repeat places -------------------------------------------------------------------------------

def place_keys(incidents: pd.DataFrame, by: str = "premises", snap_m: float = 1.0) -> pd.Series:
    """The place of each incident: "premises:<id>" (by="premises" only), else the snapped point
    "point:<easting>,<northing>" (coordinates rounded to `snap_m` metres), else
    "location:<street>" (the street key of cdp.places: "On or near Market Square" and "Market
    Square" are one); NA when none is known."""
    if by not in ("premises", "point"):
        raise ValueError("by must be 'premises' or 'point'")

    def column(name: str) -> pd.Series:
        if name not in incidents:
            return pd.Series(pd.NA, index=incidents.index, dtype="string")
        return incidents[name].astype("string")

    def snapped(name: str) -> pd.Series:
        metres = (pd.to_numeric(column(name), errors="coerce") / snap_m).round() * snap_m
        return metres.round().astype("Int64").astype("string")

    premises = column("premises_id").str.strip()
    key = ("point:" + snapped("easting") + "," + snapped("northing")).fillna(
        "location:" + places.street_key(column("location")))
    if by == "premises":
        key = ("premises:" + premises.where(premises != "")).fillna(key)
    return key


def _most_common(frame: pd.DataFrame, column: str) -> pd.Series:
    """The most frequent non-missing value of `column` per place_key (ties: first alphabetically)."""
    if column not in frame:
        return pd.Series(dtype="string")
    counts = frame.dropna(subset=[column]).groupby(["place_key", column]).size().reset_index(name="n")
    counts = counts.sort_values(["place_key", "n", column], ascending=[True, False, True])
    return counts.drop_duplicates("place_key").set_index("place_key")[column]


def repeat_places(incidents: pd.DataFrame, period_start, period_end, by: str = "premises",
                  window_days: int = WINDOW_DAYS, min_incidents: int = REPEAT,
                  snap_m: float = 1.0, keys: pd.Series | None = None) -> pd.DataFrame:
    """Repeat locations: places with `min_incidents` or more incidents within `window_days` days
    of each other (12 months: the same window as repeat victims), at least one of them dated in
    the period (days, both ends inclusive); earlier incidents up to `window_days` before the period
    start count, later ones do not. Dates known only to the month are the first of the month.

    A place is a premises_id, else a snapped point, else the street (see `place_keys`; by="point"
    ignores premises). Columns: place_key, label (premises name, else the commonest street
    spelling, else the key), premises_type, ward_code (commonest), incidents (in the period),
    peak (the most within `window_days` up to one of them), first and last (in the period),
    n_<priority> counts (in the period) and `priorities` (e.g. "Anti-social behaviour 5, Drugs and
    alcohol 2"). Ranked by incidents in the period, then most recent. `keys`: the rows' place_keys
    when already known (e.g. from the store's query), so they are not worked out again.
    """
    keys = place_keys(incidents, by, snap_m) if keys is None else keys
    # The trailing-window machinery of victims, with the place as the key.
    in_period, peaks = _period_peaks(incidents.assign(victim_id=keys), period_start, period_end,
                                     window_days)
    start, end = _bounds(period_start, period_end)
    dates = incident_dates(incidents)
    frame = incidents.assign(place_key=keys, _date=dates)
    frame = frame[frame["place_key"].notna() & (dates >= start) & (dates <= end)]
    if "location" in frame:
        frame = frame.assign(location=places.street(frame["location"]))
    chosen = peaks[peaks >= min_incidents].index
    frame = frame[frame["place_key"].isin(chosen)]
    flags = {key: col for key, col in PRIORITY_COLUMNS.items() if col in frame}
    frame = frame.assign(**{f"n_{k}": frame[c].fillna(False).astype(int) for k, c in flags.items()})
    aggregations = {"incidents": ("place_key", "size"), "first": ("_date", "min"),
                    "last": ("_date", "max"), **{f"n_{k}": (f"n_{k}", "sum") for k in flags}}
    found = frame.groupby("place_key").agg(**aggregations)
    found["peak"] = peaks.reindex(found.index).astype(int)
    label = _most_common(frame, "premises_name").reindex(found.index) if by == "premises" else None
    location = _most_common(frame, "location").reindex(found.index)
    fallback = pd.Series(found.index, index=found.index)
    found["label"] = (location if label is None else label.fillna(location)).fillna(fallback)
    found["premises_type"] = _most_common(frame, "premises_type").reindex(found.index)
    found["ward_code"] = _most_common(frame, "ward_code").reindex(found.index)
    found["priorities"] = [
        ", ".join(f"{PRIORITY_BY_KEY[k].label} {int(row[f'n_{k}'])}"
                  for k in sorted(flags, key=lambda k: -row[f"n_{k}"]) if row[f"n_{k}"] > 0)
        for _, row in found.iterrows()]
    found = found.reset_index().sort_values(["incidents", "last", "place_key"],
                                            ascending=[False, False, True], kind="stable")
    order = ["place_key", "label", "premises_type", "ward_code", "incidents", "peak", "first", "last",
             *[f"n_{k}" for k in flags], "priorities"]
    return found[order].reset_index(drop=True)
