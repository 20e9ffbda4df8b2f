"""Statistical disclosure control: the one layer every restricted figure passes through.

Restricted views are the board role's, everywhere, and every export marked for publication (the
board deck). They get their figures only from a `Published` object; other viewers get `TrueValues`,
which has the same interface and shows counts as they are. A page therefore never asks "may this
viewer see small numbers?": it asks its disclosure object for each figure.

The rule (the common official-statistics practice; threshold and base are configuration):
- a count of 0 is shown as 0; a count from 1 to threshold - 1 is shown as "<5";
- every other count is rounded to the nearest multiple of the base (5), half up;
- a total is computed from the true values and then rounded on its own, so it need not equal the
  sum of the rounded parts; when the parts shown beside it would leave a "<5" part only one
  possible value, the total is withheld (a decision made from the published parts alone);
- percentages, shares, rates and changes are computed from the published counts, never from the
  true ones, and only when every count behind them is publishable (0 or at least the threshold);
- statistical tests (p-values, significance) are shown only when every count behind them is
  publishable, and then only as a verdict, never as an exact statistic.

Why this stops differencing: every published figure is a function of one true count and nothing
else, and each figure only says that its true count lies in an interval (`interval`) of at least
three values; "<5" says 1 to 4. The difference of two published totals therefore fits every value
from 1 to 4 of a suppressed part that is in one and not the other (README, "Disclosure control").
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

WITHHELD = "*"   # a figure withheld so that a small count cannot be worked out


class DisclosureConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    """Counts of 1 to `threshold` - 1 are suppressed; all others are rounded to `base`."""
    threshold: int = 5
    base: int = 5

    def __post_init__(self):
        if self.threshold < 2 or self.base < 1:
            raise DisclosureConfigError(f"the disclosure threshold must be at least 2 and the rounding "
                                        f"base at least 1 (got {self.threshold} and {self.base})")

    @property
    def statement(self) -> str:
        """The rule in one sentence, for every restricted view."""
        rounding = f"other counts are rounded to the nearest {self.base}" if self.base > 1 else \
            "other counts are shown as they are"
        return (f"Disclosure control: counts of 1 to {self.threshold - 1} are shown as "
                f"\"<{self.threshold}\" and {rounding}; totals are rounded on their own, so they may "
                f"not equal the sum of the rows; percentages, rates and changes are worked out from "
                f"the rounded counts and shown only when none of them is \"<{self.threshold}\"; "
                f"{WITHHELD}: withheld so that a small count cannot be worked out.")


def _setting(environ, name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise DisclosureConfigError(f"{name} must be a whole number, not {value!r}") from None


def configured_rule(environ=None) -> Rule:
    """The rule from CDP_DISCLOSURE_THRESHOLD and CDP_DISCLOSURE_ROUNDING (defaults 5 and 5)."""
    environ = os.environ if environ is None else environ
    return Rule(_setting(environ, "CDP_DISCLOSURE_THRESHOLD", 5),
                _setting(environ, "CDP_DISCLOSURE_ROUNDING", 5))


def _missing(n) -> bool:
    return n is None or (not isinstance(n, str) and pd.isna(n))


class TrueValues:
    """Figures as they are: for analysts and neighbourhood officers."""
    restricted = False
    statement = ""

    def count(self, n) -> float:
        return math.nan if _missing(n) else n

    def counts(self, values) -> pd.Series:
        return pd.Series(values, dtype=float) if not isinstance(values, pd.Series) else values.astype(float)

    def frame(self, df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
        return df.copy()

    def table(self, df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
        """`df` for display: unchanged for true values; `columns` as published text ("<5",
        "1,235") for a restricted viewer."""
        out = df.copy()
        if self.restricted:
            for column in columns:
                out[column] = self.texts(df[column])
        return out

    def total(self, n, parts: Sequence | None = None) -> float | None:
        return self.count(n)

    def publishable(self, *counts) -> bool:
        return True

    def text(self, n) -> str:
        if _missing(n):
            return ""
        return f"{int(n):,}" if float(n).is_integer() else f"{n:,}"

    def texts(self, values) -> list[str]:
        return [self.text(v) for v in values]

    def total_text(self, n, parts: Sequence | None = None) -> str:
        return self.text(n)

    def shown_text(self, shown) -> str:
        """The text of a figure already published (from `count` or `total`); None: withheld."""
        return WITHHELD if shown is None else self.text(shown)

    def share(self, part, whole) -> float | None:
        """part / whole (None when whole is 0 or either is missing)."""
        if _missing(part) or _missing(whole) or not whole:
            return None
        return part / whole

    def rate(self, count, denominator, per: float = 1000.0) -> float | None:
        if _missing(count) or _missing(denominator) or not denominator:
            return None
        return count / denominator * per

    def difference(self, current, previous) -> float | None:
        if _missing(current) or _missing(previous):
            return None
        return current - previous

    def pct_change(self, current, previous) -> float | None:
        if _missing(current) or _missing(previous) or not previous:
            return None
        return (current - previous) / previous * 100


class Published(TrueValues):
    """Figures under the rule: for the board and for exports marked for publication."""
    restricted = True

    def __init__(self, rule: Rule | None = None):
        self.rule = rule or configured_rule()

    @property
    def statement(self) -> str:
        return self.rule.statement

    # --- counts ----------------------------------------------------------------------------
    def is_suppressed(self, n) -> bool:
        return not _missing(n) and 1 <= n < self.rule.threshold

    def count(self, n) -> float:
        """The published value: NaN when suppressed (or missing), else rounded to the base."""
        if _missing(n) or self.is_suppressed(n):
            return math.nan
        if n == 0:
            return 0.0
        base = self.rule.base
        return float(max(self.rule.threshold, math.floor(n / base + 0.5) * base)) if base > 1 else float(n)

    def counts(self, values) -> pd.Series:
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        return pd.Series([self.count(v) for v in series], index=series.index, dtype=float)

    def frame(self, df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
        """A copy of `df` with `columns` published (NaN where suppressed)."""
        out = df.copy()
        for column in columns:
            out[column] = self.counts(df[column]).to_numpy()
        return out

    def publishable(self, *counts) -> bool:
        """No count is suppressed or missing: derived figures may be shown."""
        return all(not _missing(n) and not self.is_suppressed(n) for n in counts)

    # --- what a published figure says ----------------------------------------------------
    def interval(self, n) -> tuple[int, int]:
        """The true values a reader can infer from the published form of the count `n`."""
        return self.interval_of(self.count(n))

    def interval_of(self, shown) -> tuple[int, int]:
        """The true values a published figure allows (inclusive): NaN is "<5"."""
        if _missing(shown):
            return 1, self.rule.threshold - 1
        if shown == 0:
            return 0, 0
        r, base = int(shown), self.rule.base
        low, high = (r - base // 2, r + (base + 1) // 2 - 1) if base > 1 else (r, r)
        return max(low, self.rule.threshold), high

    def total_interval_of(self, shown) -> tuple[int, int]:
        """The true values a published total allows, knowing the rule: a total is rounded to the
        nearest multiple or, when that would fix a part, to the other neighbouring one, so it
        may be one further out than `interval_of` says."""
        low, high = self.interval_of(shown)
        if _missing(shown) or shown == 0:
            return low, high
        return max(low - 1, 1), high + 1

    def total(self, n, parts: Sequence | None = None) -> float | None:
        """A total, published from its true value `n` on its own (NaN: "<5").

        With `parts`, the true counts shown beside it: when the parts' published figures and the
        nearest rounding of the total would leave a "<5" part one possible value (four parts of
        "<5" and a total of "<5" say each is 1; two of "<5" and a total of 10 say each is 4), the
        total is rounded to the other neighbouring multiple instead, which fixes nothing, or
        withheld (None) when that fixes a part too."""
        shown = self.count(n)
        if parts is None or _missing(n):
            return shown
        parts = [p for p in parts if not _missing(p)]
        hidden = [self.interval(p) for p in parts if self.is_suppressed(p)]
        if not hidden:
            return shown
        bounds = [self.interval(p) for p in parts]
        low, high = sum(b[0] for b in bounds), sum(b[1] for b in bounds)

        def pins(candidate) -> bool:
            t_low, t_high = self.interval_of(candidate)
            return any(min(hi, t_high - (low - lo)) <= max(lo, t_low - (high - hi)) for lo, hi in hidden)

        base, threshold = max(self.rule.base, 1), self.rule.threshold
        if _missing(shown):
            others = [float(self.count(threshold))]
        else:   # never down to "<5", which must mean 1 to threshold - 1
            others = [c for c in (shown - base, shown + base) if c >= threshold]
            others.sort(key=lambda c: abs(c - n))
        for candidate in [shown, *others]:
            if not pins(candidate):
                return candidate
        return None

    # --- text ------------------------------------------------------------------------------
    def text(self, n) -> str:
        if _missing(n):
            return ""
        return self.shown_text(self.count(n))

    def total_text(self, n, parts: Sequence | None = None) -> str:
        return self.shown_text(self.total(n, parts))

    def shown_text(self, shown) -> str:
        """The text of a published figure (NaN: "<5"; None: withheld)."""
        if shown is None:
            return WITHHELD
        return f"<{self.rule.threshold}" if _missing(shown) else f"{int(shown):,}"

    # --- derived figures: from the published counts, when all are publishable ---------------
    def share(self, part, whole) -> float | None:
        if not self.publishable(part, whole):
            return None
        return super().share(self.count(part), self.count(whole))

    def rate(self, count, denominator, per: float = 1000.0) -> float | None:
        """A rate per `per` of a public denominator (residents): from the published count."""
        if not self.publishable(count):
            return None
        return super().rate(self.count(count), denominator, per)

    def difference(self, current, previous) -> float | None:
        if not self.publishable(current, previous):
            return None
        return self.count(current) - self.count(previous)

    def pct_change(self, current, previous) -> float | None:
        if not self.publishable(current, previous):
            return None
        return super().pct_change(self.count(current), self.count(previous))


def published(rule: Rule | None = None) -> Published:
    """The disclosure layer for a restricted view or an export marked for publication."""
    return Published(rule)


def usable(shown) -> bool:
    """Whether figures may be worked out from a published figure: it is neither "<5" (NaN) nor
    withheld (None)."""
    return shown is not None and not _missing(shown)
