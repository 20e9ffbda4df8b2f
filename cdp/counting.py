"""What is counted: one count per real incident (DESIGN.md, "What is counted").

This module is the one place that decides which stored incidents count in a figure, which months
each source covers, and which months may be compared.

- Only incidents placed in a loaded ward count (`location_status = 'in_area'`). Incidents outside
  the area and unlocated ones are kept and stated ("not counted: ..."), never added in.
- police.uk street data is a published copy of the force's own records. A partner source named in
  CDP_FORCE_EXTRACTS (default `police`) is the force's own extract: in a month it covers, that
  force's police.uk rows are superseded (kept, marked `superseded`, not counted). In a month it
  covers only in part while police.uk covers it, the extract's rows are the superseded ones. Other
  partner sources (council ASB, housing, fire) are separate reports and count as themselves.
- Coverage is tracked per (dataset, source, month) in the table `source_months`, rebuilt by every
  import inside its transaction (`refresh`). police.uk covers the months it has rows for (police.uk
  publishes whole months). A partner import covers every month from its first to its last incident
  of each source, except a month that had not ended when the import ran.
- A month is complete when every source of records covers it: the police (its own extract, or
  police.uk where the extract does not reach), and each other partner source. Only complete months
  are compared, and "latest" periods end at the latest complete month.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import duckdb
import pandas as pd

from .disclosure import TrueValues
from .priorities import PRIORITY_BY_KEY

FORCE_EXTRACTS_ENV = "CDP_FORCE_EXTRACTS"
DEFAULT_FORCE_EXTRACT = "police"
LEVELS = ("full", "proxy", "unavailable")


def counted_condition(alias: str = "") -> str:
    """SQL condition for a stored incident that counts in figures: in a loaded ward, not superseded."""
    p = f"{alias}." if alias else ""
    return f"({p}location_status = 'in_area' AND NOT {p}superseded)"


# --- which partner sources are the force's own records ------------------------------------------

@dataclass(frozen=True)
class ForceExtract:
    """A partner source that is a police force's own records, and the police.uk forces (as in
    'Falls within') it supersedes; `forces` None means the force with most incidents in the wards."""
    source: str
    forces: tuple[str, ...] | None = None

    def describe(self) -> str:
        forces = " or ".join(self.forces) if self.forces else \
            "the police.uk force with most incidents in the wards"
        return f"partner source '{self.source}' supersedes {forces}"


class ForceExtractsError(ValueError):
    """CDP_FORCE_EXTRACTS cannot be read; the message says why."""


def parse_force_extracts(text: str | None) -> tuple[ForceExtract, ...]:
    """Rules from CDP_FORCE_EXTRACTS text: 'source[=Force name[,Force name]][;...]', or 'none'.

    Unset or blank: the default, partner source 'police' supersedes the police.uk force with most
    incidents in the loaded wards.
    """
    if text is None or not text.strip():
        return (ForceExtract(DEFAULT_FORCE_EXTRACT),)
    if text.strip().lower() == "none":
        return ()
    rules = []
    for part in text.split(";"):
        if not part.strip():
            continue
        source, _, forces = part.partition("=")
        source = source.strip()
        if not source:
            raise ForceExtractsError(f"{FORCE_EXTRACTS_ENV}: '{part.strip()}' names no partner source "
                                     "(write source=Force name, e.g. police=Nottinghamshire Police)")
        names = tuple(name.strip() for name in forces.split(",") if name.strip())
        rules.append(ForceExtract(source, names or None))
    return tuple(rules)


def force_extracts() -> tuple[ForceExtract, ...]:
    """The rules in effect (CDP_FORCE_EXTRACTS, else the default)."""
    return parse_force_extracts(os.environ.get(FORCE_EXTRACTS_ENV))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rules_sql(rules: tuple[ForceExtract, ...]) -> str:
    """SQL rows (extract, force) for the rules; an automatic rule picks the home force."""
    parts = []
    for rule in rules:
        if rule.forces:
            parts += [f"SELECT {_literal(rule.source)} AS extract, {_literal(f)} AS force"
                      for f in rule.forces]
        else:
            parts.append(f"SELECT {_literal(rule.source)} AS extract, source AS force FROM ("
                         "SELECT source FROM per_month WHERE dataset = 'police_uk' GROUP BY source "
                         "ORDER BY sum(in_area) DESC, source LIMIT 1)")
    if not parts:
        return "SELECT NULL::VARCHAR AS extract, NULL::VARCHAR AS force WHERE FALSE"
    return " UNION ".join(parts)


SOURCE_MONTHS_DDL = """
    CREATE TABLE source_months (
        dataset VARCHAR NOT NULL,      -- 'police_uk' or 'partner'
        source VARCHAR NOT NULL,       -- police.uk force or partner system
        month DATE NOT NULL,
        rows BIGINT NOT NULL,          -- stored incidents of the source in the month
        in_area BIGINT NOT NULL,       -- ... placed in a loaded ward
        outside_area BIGINT NOT NULL,  -- ... outside every loaded ward
        unlocated BIGINT NOT NULL,     -- ... without a location
        covered BOOLEAN NOT NULL,      -- the source covers the whole month
        superseded BOOLEAN NOT NULL,   -- its rows are another source's copy of the same records
        records VARCHAR NOT NULL       -- the source of records it belongs to (see complete months)
    )"""


def refresh_statements(rules: tuple[ForceExtract, ...]) -> list[str]:
    """SQL rebuilding `source_months` and re-marking superseded incidents under `rules`."""
    return [
        "DELETE FROM source_months",
        f"""
        INSERT INTO source_months BY NAME
        WITH per_month AS (
            SELECT dataset, source, month, count(*) AS rows,
                   count(*) FILTER (WHERE location_status = 'in_area') AS in_area,
                   count(*) FILTER (WHERE location_status = 'outside_area') AS outside_area,
                   count(*) FILTER (WHERE location_status = 'unlocated') AS unlocated
            FROM incidents GROUP BY dataset, source, month),
        rules AS ({_rules_sql(rules)}),
        partner_spans AS (  -- each partner import's first and last month, per source
            SELECT i.source, min(i.month) AS first, max(i.month) AS last,
                   coalesce(im.started_at, current_localtimestamp()) AS loaded
            FROM incidents i LEFT JOIN imports im ON im.import_id = i.import_id
            WHERE i.dataset = 'partner' GROUP BY i.source, i.import_id, im.started_at),
        partner_months AS (
            SELECT source, loaded, CAST(unnest(generate_series(first::TIMESTAMP, last::TIMESTAMP,
                                                               INTERVAL 1 MONTH)) AS DATE) AS month
            FROM partner_spans),
        covered AS (
            SELECT DISTINCT 'partner' AS dataset, source, month FROM partner_months
            WHERE month + INTERVAL 1 MONTH <= loaded   -- the month had ended when it was loaded
            UNION
            SELECT dataset, source, month FROM per_month WHERE dataset = 'police_uk'),
        months AS (SELECT dataset, source, month FROM per_month
                   UNION SELECT dataset, source, month FROM covered)
        SELECT m.dataset, m.source, m.month, coalesce(p.rows, 0) AS rows,
               coalesce(p.in_area, 0) AS in_area, coalesce(p.outside_area, 0) AS outside_area,
               coalesce(p.unlocated, 0) AS unlocated, c.month IS NOT NULL AS covered,
               CASE WHEN m.dataset = 'police_uk' THEN EXISTS (
                        SELECT 1 FROM rules r JOIN covered x ON x.dataset = 'partner' AND x.source = r.extract
                        WHERE r.force = m.source AND x.month = m.month)
                    ELSE c.month IS NULL AND EXISTS (
                        SELECT 1 FROM rules r JOIN covered x ON x.dataset = 'police_uk' AND x.source = r.force
                        WHERE r.extract = m.source AND x.month = m.month) END AS superseded,
               CASE WHEN m.dataset = 'police_uk' THEN coalesce(
                        (SELECT 'partner:' || min(r.extract) FROM rules r WHERE r.force = m.source),
                        'police_uk:' || m.source)
                    ELSE 'partner:' || m.source END AS records
        FROM months m LEFT JOIN per_month p USING (dataset, source, month)
             LEFT JOIN covered c USING (dataset, source, month)""",
        """
        UPDATE incidents SET superseded = NOT superseded
        WHERE superseded <> ((dataset, source, month) IN (
            SELECT dataset, source, month FROM source_months WHERE superseded))""",
    ]


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild coverage and supersession (call inside the import's transaction)."""
    for sql in refresh_statements(force_extracts()):
        con.execute(sql)


# --- coverage, month by month ---------------------------------------------------------------------

def month_list(months: list[date]) -> str:
    """'Jan 2024 to Mar 2024, Jun 2024' for a sorted list of months."""
    if not months:
        return ""
    runs, start, previous = [], months[0], months[0]
    for month in months[1:] + [None]:
        if month is not None and (month.year * 12 + month.month) == (previous.year * 12 + previous.month) + 1:
            previous = month
            continue
        runs.append(f"{start:%b %Y}" if start == previous else f"{start:%b %Y} to {previous:%b %Y}")
        if month is not None:
            start = previous = month
    return ", ".join(runs)


@dataclass(frozen=True)
class Coverage:
    """How well what is counted in a period serves a priority: level "full", "proxy",
    "unavailable" or "mixed" (different months differ), with the note the interface shows."""
    level: str
    note: str
    by_month: dict = field(default_factory=dict, compare=False)  # month -> level


def _police_uk_note(key: str) -> str:
    return PRIORITY_BY_KEY[key].police_uk_note


@dataclass(frozen=True)
class Months:
    """What each source covers, month by month: the store's `source_months` table."""
    table: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.table.empty

    # -- complete months (worked out once per Months: treat it as read-only) --------------------
    @cached_property
    def _covering(self) -> dict[date, set[str]]:
        """Month -> the sources of records that cover it."""
        out: dict[date, set[str]] = {}
        t = self.table
        for month, records, covered in zip(t["month"].dt.date, t["records"], t["covered"]):
            if covered:
                out.setdefault(month, set()).add(records)
        return out

    @cached_property
    def _record_sets(self) -> dict[str, str]:
        out = {}
        for records, rows in self.table.groupby("records", sort=True):
            kinds = sorted({(d, s) for d, s in zip(rows["dataset"], rows["source"])})
            names = [f"police.uk ({s})" if d == "police_uk" else f"partner source '{s}'" for d, s in kinds]
            out[records] = " or ".join(names)
        return out

    @cached_property
    def _complete(self) -> tuple[date, ...]:
        wanted = set(self._record_sets)
        return tuple(sorted(m for m, covering in self._covering.items() if wanted and covering >= wanted))

    @cached_property
    def _held(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        held = self.table.loc[self.table["rows"] > 0, "month"]
        return (held.min(), held.max()) if len(held) else None

    @cached_property
    def _sources(self) -> dict[date, set[str]]:
        """Month -> the datasets ('police_uk', 'partner') with counted rows in it."""
        out: dict[date, set[str]] = {}
        t = self.table
        for month, dataset, superseded, covered, rows in zip(t["month"].dt.date, t["dataset"],
                                                              t["superseded"], t["covered"], t["rows"]):
            if not superseded and (covered or rows > 0):
                out.setdefault(month, set()).add(dataset)
        return out

    def record_sets(self) -> dict[str, str]:
        """Each source of records and its sources, in words."""
        return dict(self._record_sets)

    def missing(self, month: date) -> list[str]:
        """The sources of records that do not cover `month`, in words (empty when complete)."""
        covering = self._covering.get(month, set())
        return [name for records, name in self._record_sets.items() if records not in covering]

    def complete_months(self) -> list[date]:
        """Months every source of records covers, oldest first."""
        return list(self._complete)

    def last_complete(self) -> date | None:
        return self._complete[-1] if self._complete else None

    def is_complete(self, start: date, end: date) -> bool:
        return not self.incomplete_in(start, end)

    def incomplete_in(self, start: date, end: date) -> dict[date, list[str]]:
        """Months from `start` to `end` that are not complete, with the sources missing them."""
        complete = set(self._complete)
        return {m: self.missing(m) for m in pd.date_range(pd.Timestamp(start), pd.Timestamp(end),
                                                          freq="MS").date if m not in complete}

    def why_not_compared(self, *periods: tuple[date, date]) -> str | None:
        """None when every month of the periods is complete, else why they are not compared."""
        for start, end in periods:
            gaps = self.incomplete_in(start, end)
            if not gaps:
                continue
            if self._held is None or pd.Timestamp(start) < self._held[0]:
                return "the loaded data starts in " + (f"{self._held[0]:%B %Y}" if self._held else "no month")
            if pd.Timestamp(end) > self._held[1]:
                return f"the loaded data ends in {self._held[1]:%B %Y}"
            month, missing = next(iter(gaps.items()))
            who = ", ".join(missing) if missing else "no source"
            return (f"{month_list(sorted(gaps))} not complete: {who} "
                    f"{'does' if len(missing) == 1 else 'do'} not cover {month:%B %Y}")
        return None

    # -- what the counted data can identify ------------------------------------------------------
    def _month_sources(self, start: date, end: date) -> dict[date, set[str]]:
        """Per month of the period: the datasets with counted rows in it."""
        return {m: self._sources.get(m, set())
                for m in pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS").date}

    def coverage(self, key: str, start: date, end: date) -> Coverage:
        """How well the incidents counted from `start` to `end` serve priority `key`.

        A month counted from partner extracts only is "full" (they carry every flag); from
        police.uk only, police.uk's level for the priority; from both, police.uk's level when it
        is full, else "proxy" (only the partner records identify it); with no data, "unavailable".
        """
        police_level = PRIORITY_BY_KEY[key].police_uk_coverage
        by_month = {}
        for month, datasets in self._month_sources(start, end).items():
            if {"partner", "police_uk"} <= datasets:
                level = "full" if police_level == "full" else "proxy"
            elif "partner" in datasets:
                level = "full"
            elif "police_uk" in datasets:
                level = police_level
            else:
                level = "unavailable"
            by_month[month] = level
        levels = set(by_month.values()) or {"unavailable"}
        if len(levels) == 1:
            level = levels.pop()
            note = {"full": "", "proxy": _police_uk_note(key)}.get(
                level, f"Unavailable in the loaded data: {_police_uk_note(key)}")
            if level == "proxy" and police_level == "unavailable":
                note = (f"Only the partner extracts identify it; {_police_uk_note(key)}, so the police "
                        "records taken from police.uk are not in this count")
            return Coverage(level, note, by_month)
        parts = []
        for level in LEVELS:
            months = sorted(m for m, v in by_month.items() if v == level)
            if months:
                parts.append(f"{level} in {month_list(months)}")
        note = (f"Mixed: {'; '.join(parts)} (where only police.uk counts: {_police_uk_note(key)}). "
                "Months of different coverage are not compared.")
        return Coverage("mixed", note, by_month)

    def comparable(self, key: str, *periods: tuple[date, date]) -> str | None:
        """None when the periods may be compared for priority `key` (every month complete and of
        one coverage level), else why not."""
        reason = self.why_not_compared(*periods)
        if reason:
            return reason
        levels = set()
        for start, end in periods:
            levels |= set(self.coverage(key, start, end).by_month.values())
        if len(levels) > 1:
            return "the coverage differs between the periods (" + ", ".join(sorted(levels)) + ")"
        if levels == {"unavailable"}:
            return "the loaded data cannot identify it"
        return None


def months_by_source(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[date]]:
    """(dataset, source) -> the months the store holds incidents for, oldest first: the one
    answer to "which months does each source cover" (from `source_months`, rebuilt by every
    import; `Months` adds which of them each source covers whole, and which are complete)."""
    rows = con.execute("SELECT dataset, source, month FROM source_months WHERE rows > 0 "
                       "ORDER BY dataset, source, month").fetchall()
    held: dict[tuple[str, str], list[date]] = {}
    for dataset, source, month in rows:
        held.setdefault((dataset, source), []).append(month)
    return held


def months(con: duckdb.DuckDBPyConnection) -> Months:
    """The store's coverage table as `Months`."""
    table = con.execute("SELECT * FROM source_months ORDER BY dataset, source, month").df()
    table["month"] = pd.to_datetime(table["month"])
    return Months(table)


# --- what is not counted ------------------------------------------------------------------------

@dataclass(frozen=True)
class NotCounted:
    """Stored incidents the filters select that no figure counts, by reason: outside the area,
    unlocated, police.uk rows the force's own extract supersedes, and extract rows of a month the
    extract covers only in part while police.uk covers it whole (superseded the other way)."""
    outside_area: int
    unlocated: int
    superseded: int
    partial: int = 0

    @property
    def total(self) -> int:
        return self.outside_area + self.unlocated + self.superseded + self.partial

    def sentence(self, figures=None) -> str:
        """'Not counted: 12,345 outside the area's wards, 678 without a location.' ('' if none);
        each count as `figures` (cdp.disclosure; default: true values) publishes it."""
        n = (figures or TrueValues()).text

        parts = []
        if self.outside_area:
            parts.append(f"{n(self.outside_area)} outside the area's wards")
        if self.unlocated:
            parts.append(f"{n(self.unlocated)} without a location")
        if self.superseded:
            parts.append(f"{n(self.superseded)} police.uk rows the force's own extract replaces")
        if self.partial:
            parts.append(f"{n(self.partial)} extract rows of a month it covers only in part, where "
                         "police.uk counts")
        return ("Not counted: " + ", ".join(parts) + ".") if parts else ""


NOT_COUNTED_SQL = """
    count(*) FILTER (WHERE location_status = 'outside_area' AND NOT superseded),
    count(*) FILTER (WHERE location_status = 'unlocated' AND NOT superseded),
    count(*) FILTER (WHERE superseded AND dataset = 'police_uk'),
    count(*) FILTER (WHERE superseded AND dataset <> 'police_uk')"""


def not_counted(con: duckdb.DuckDBPyConnection, f, priority: str | None = None) -> NotCounted:
    """The incidents the filters `f` select (in priority `priority`, if given) that are kept in
    the store but not counted (see NotCounted). The ward filter does not apply (such incidents
    have no ward, or are another copy); every other filter does."""
    from .filters import where
    condition, params = where(f, wards=False, priority=priority, counted=False)
    row = con.execute(f"SELECT {NOT_COUNTED_SQL} FROM incidents WHERE {condition}", params).fetchall()[0]
    return NotCounted(*(int(v or 0) for v in row))
