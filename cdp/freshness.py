"""Which months each source covers, and whether its newest month is as recent as expected.

`months_by_source` (cdp.counting's, from the coverage table every import rebuilds) is the one
answer to "which months does each source cover" (the refresh uses it to find the months the store
lacks; the pages use it to say how old the data is).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb

from .counting import months_by_source  # noqa: F401 - the one answer, kept where callers look
from .filters import month_add
from .store import synthetic_note

# How many months before the current month the newest month of a source should be, at worst.
# police.uk publishes each month within about two months of its end: on any day of December
# the store should hold September. Partner extracts are expected every month.
EXPECTED_LAG_MONTHS = {"police_uk": 3, "partner": 2}
WHY_EXPECTED = {
    "police_uk": "police.uk normally publishes each month within about two months of its end",
    "partner": "partner extracts are expected every month",
}
# police.uk publishes every force's month at once: a force with nothing in the area in the newest
# month (British Transport Police, often) is not late. Partner extracts arrive source by source.
PUBLISHED_TOGETHER = {"police_uk"}
DATASET_LABELS = {"police_uk": "police.uk", "partner": "partner extract"}
HOW_TO_UPDATE = {
    "police_uk": "refresh from police.uk on the Data page (analysts), or run `python -m cdp refresh police-uk`",
    "partner": "load the latest extract on the Data page, or with `python -m cdp ingest partner`",
}


@dataclass(frozen=True)
class SourceAge:
    dataset: str
    source: str
    first: date
    last: date
    missing: tuple[date, ...]   # months between first and last with no incidents from it
    expected: date              # the newest month the source should hold by now
    stale: bool

    @property
    def period(self) -> str:
        text = f"{self.first:%b %Y}" if self.first == self.last else f"{self.first:%b %Y} to {self.last:%b %Y}"
        if self.missing:
            text += f" ({len(self.missing)} month{'s' if len(self.missing) > 1 else ''} with no data)"
        return text


@dataclass(frozen=True)
class DataAge:
    sources: tuple[SourceAge, ...]
    synthetic: str | None   # the demo note for a synthetic store, else None
    today: date

    def covers(self) -> list[tuple[str, list[tuple[list[str], str]]]]:
        """(dataset label, [(source names, period), ...]): sources sharing a period together."""
        out = []
        for dataset in sorted({s.dataset for s in self.sources}):
            by_period: dict[str, list[str]] = {}
            for s in self.sources:
                if s.dataset == dataset:
                    by_period.setdefault(s.period, []).append(s.source)
            out.append((DATASET_LABELS.get(dataset, dataset),
                        [(names, period) for period, names in by_period.items()]))
        return out

    def stale(self) -> list[SourceAge]:
        return [s for s in self.sources if s.stale]

    def warnings(self, name: Callable[[str], str] = str) -> list[str]:
        """One sentence per dataset whose newest month is older than expected; source names
        pass through `name` (e.g. to escape them for markdown)."""
        out = []
        for dataset in sorted({s.dataset for s in self.stale()}):
            late = [s for s in self.stale() if s.dataset == dataset]
            expected = late[0].expected
            names = "; ".join(f"{name(s.source)} ends {s.last:%B %Y}" for s in late)
            out.append(f"The {DATASET_LABELS.get(dataset, dataset)} data is older than expected: {names}, "
                       f"and {WHY_EXPECTED.get(dataset, 'newer months are expected')}, so by now "
                       f"({self.today:%-d %B %Y}) the store should hold {expected:%B %Y}. To bring it up "
                       f"to date, {HOW_TO_UPDATE.get(dataset, 'load newer data')}.")
        return out


def data_age(con: duckdb.DuckDBPyConnection, today: date | None = None) -> DataAge:
    """The period each source covers and whether it is older than expected on `today`.

    Synthetic demo data covers a fixed period and is never called stale."""
    today = today or date.today()
    synthetic = synthetic_note(con)
    this_month = today.replace(day=1)
    covered = months_by_source(con)
    newest = {}
    for (dataset, _), months in covered.items():
        newest[dataset] = max(newest.get(dataset, months[-1]), months[-1])
    sources = []
    for (dataset, source), months in covered.items():
        held = set(months)
        missing, month = [], months[0]
        while month < months[-1]:
            if month not in held:
                missing.append(month)
            month = month_add(month, 1)
        expected = month_add(this_month, -EXPECTED_LAG_MONTHS.get(dataset, 2))
        judged = newest[dataset] if dataset in PUBLISHED_TOGETHER else months[-1]
        sources.append(SourceAge(dataset, source, months[0], months[-1], tuple(missing), expected,
                                 stale=not synthetic and judged < expected))
    return DataAge(tuple(sources), synthetic, today)
