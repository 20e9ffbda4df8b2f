"""The targets file: the plan's baseline year, its targets, and the definitions every page uses.

One file (`config/targets.toml`, or the one CDP_TARGETS names) is the one set of definitions the
numbers rest on: the baseline year every comparison with the plan uses, each target's percentage,
and the repeat definitions (DESIGN.md, "Definitions the numbers rest on").

Format (TOML)::

    plan = "Crime and Drugs Partnership Plan 2021-24"    # optional title
    [baseline]
    start = "2020-04"            # first month of the baseline year, YYYY-MM
    end = "2021-03"              # last month; the baseline is exactly 12 months
    [definitions]                # optional; these are the defaults
    window_days = 365            # "12 months" everywhere: incidents at most 365 days apart (28-365)
    high_frequency = 3           # a high-frequency victim: 3 or more incidents in 12 months
    escalation = 3               # domestic abuse potential escalation: 3 in 12 months (MARAC)
    [[targets]]                  # one table per target
    label = "Reduce anti-social behaviour by 25%"
    measure = "count"            # count | all_crime | repeat_rate | treatment
    priority = "asb"             # a priority key (needed for count and repeat_rate)
    aim = "reduce"               # reduce | maintain
    percent = 25                 # reduce: by this much (0 = any fall); maintain: no fall beyond it
    panel = "asb"                # optional: the panel it shows on (a priority key or "crime")

Measures: `count` counts the priority's incidents (ASB incidents for asb, crimes otherwise);
`all_crime` every recorded crime (ASB incidents never added in); `repeat_rate` the repeat
victimisation rate of the priority's crimes (`cdp.repeats.repeat_rate_for_target`); `treatment`
the share of people in treatment who completed it successfully, from the indicator file
(`cdp.briefing`). A repeat victim or repeat place always has 2 or more incidents in 12 months.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from . import config
from .priorities import PRIORITY_KEYS

TARGETS_ENV = "CDP_TARGETS"
DEFAULT_TARGETS_FILE = config.PROJECT_ROOT / "config" / "targets.toml"
MEASURES = ("count", "all_crime", "repeat_rate", "treatment")
AIMS = ("reduce", "maintain")
CRIME_PANEL = "crime"


@dataclass(frozen=True)
class Definitions:
    """What "12 months", "high-frequency" and "escalation" mean on every page (DESIGN.md)."""
    window_days: int = 365
    high_frequency: int = 3
    escalation: int = 3
    repeat: int = 2  # a repeat is a second incident: fixed by the word

    @property
    def window_words(self) -> str:
        """'12 months (365 days)' for the default window."""
        if self.window_days == 365:
            return "12 months (365 days)"
        return f"{self.window_days} days"


# --- the targets file ------------------------------------------------------------------------

class BriefingConfigError(ValueError):
    """A targets or indicator file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Target:
    label: str
    measure: str
    aim: str
    percent: float
    panel: str
    priority: str | None = None


@dataclass(frozen=True)
class TargetsConfig:
    baseline_start: date
    baseline_end: date
    targets: tuple[Target, ...]
    plan: str = "Partnership Plan"
    source: str = ""
    definitions: Definitions = field(default_factory=Definitions)

    @property
    def baseline_label(self) -> str:
        """'April 2020 to March 2021'."""
        return period_label(self.baseline_start, self.baseline_end)

    @property
    def baseline_short(self) -> str:
        """'2020/21' for a financial year, else 'Apr 2020 to Mar 2021'."""
        start, end = self.baseline_start, self.baseline_end
        if start.month == 4 and end == date(start.year + 1, 3, 1):
            return f"{start.year}/{str(start.year + 1)[2:]}"
        return f"{start:%b %Y} to {end:%b %Y}"

    def repeat_target(self, priority: str) -> Target | None:
        """The repeat_rate target of `priority`, if the file has one."""
        return next((t for t in self.targets if t.measure == "repeat_rate" and t.priority == priority), None)

    def targets_for(self, panel: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.panel == panel)


def period_label(start: date, end: date) -> str:
    """'April 2020 to March 2021' (one month: 'March 2025')."""
    return f"{start:%B %Y}" if start == end else f"{start:%B %Y} to {end:%B %Y}"


def targets_path() -> Path:
    """The targets file: CDP_TARGETS if set, else config/targets.toml."""
    value = os.environ.get(TARGETS_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_TARGETS_FILE


def _line_of(text: str, header: str, occurrence: int = 0) -> int | None:
    """Line number of the `occurrence`-th line that is exactly the TOML table header `header`."""
    found = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == header]
    return found[occurrence] if occurrence < len(found) else None


def _month(value, where: str) -> date:
    if isinstance(value, date):
        return date(value.year, value.month, 1)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value.strip()):
        year, month = map(int, value.strip().split("-"))
        return date(year, month, 1)
    raise ValueError(f"{where} must be a month written YYYY-MM, not {value!r}")


_TARGET_KEYS = {"label", "measure", "aim", "percent", "panel", "priority"}


def _target(raw: dict) -> Target:
    if not isinstance(raw, dict):
        raise ValueError("each target must be a [[targets]] table")
    unknown = set(raw) - _TARGET_KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}; "
                         f"a target has {', '.join(sorted(_TARGET_KEYS))}")
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValueError("label is missing (the target as the plan words it)")
    measure = raw.get("measure")
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    aim = raw.get("aim")
    if aim not in AIMS:
        raise ValueError(f"aim must be one of {', '.join(AIMS)}, not {aim!r}")
    percent = raw.get("percent", 0)
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent < 100:
        raise ValueError(f"percent must be a number from 0 up to 100, not {percent!r}")
    priority = raw.get("priority")
    if measure in ("count", "repeat_rate"):
        if priority not in PRIORITY_KEYS:
            raise ValueError(f"measure {measure} needs priority, one of {', '.join(PRIORITY_KEYS)}; "
                             f"got {priority!r}")
    elif priority is not None:
        raise ValueError(f"measure {measure} takes no priority")
    default_panel = {"all_crime": CRIME_PANEL, "treatment": "drugs_alcohol"}.get(measure, priority)
    panel = raw.get("panel", default_panel)
    if panel not in (CRIME_PANEL, *PRIORITY_KEYS):
        raise ValueError(f"panel must be '{CRIME_PANEL}' or a priority key "
                         f"({', '.join(PRIORITY_KEYS)}), not {panel!r}")
    return Target(label.strip(), measure, aim, float(percent), panel, priority)


def load_targets(path: str | Path | None = None) -> TargetsConfig:
    """Read and check a targets file (default: `targets_path()`).

    Raises BriefingConfigError naming the file, the line where it can, and what is wrong.
    """
    path = Path(path) if path is not None else targets_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BriefingConfigError(f"{path}: the targets file does not exist "
                                  f"(set {TARGETS_ENV} to an existing file, or unset it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BriefingConfigError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message carries "(at line L, column C)"
        raise BriefingConfigError(f"{path}: not valid TOML: {exc}") from None

    def fail(reason: str, line: int | None = None):
        where = f"{path}, line {line}" if line else str(path)
        raise BriefingConfigError(f"{where}: {reason}")

    baseline = raw.get("baseline")
    if not isinstance(baseline, dict):
        fail("no [baseline] table with start and end months")
    baseline_line = _line_of(text, "[baseline]")
    try:
        start = _month(baseline.get("start"), "baseline start")
        end = _month(baseline.get("end"), "baseline end")
    except ValueError as exc:
        fail(str(exc), baseline_line)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if months != 12:
        fail(f"the baseline must be 12 months (a year); {period_label(start, end)} is {months}",
             baseline_line)
    entries = raw.get("targets", [])
    if not isinstance(entries, list) or not entries:
        fail("no targets: add one or more [[targets]] tables")
    targets = []
    for number, entry in enumerate(entries):
        try:
            targets.append(_target(entry))
        except ValueError as exc:
            fail(f"target {number + 1}: {exc}", _line_of(text, "[[targets]]", number))
    try:
        definitions = _definitions(raw.get("definitions", {}))
    except ValueError as exc:
        fail(str(exc), _line_of(text, "[definitions]"))
    plan = raw.get("plan", "Partnership Plan")
    return TargetsConfig(start, end, tuple(targets), str(plan), str(path), definitions)


def _definitions(raw) -> Definitions:
    if not isinstance(raw, dict):
        raise ValueError("[definitions] must be a table")
    known = {"window_days", "high_frequency", "escalation"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown definition(s) {', '.join(sorted(unknown))}; "
                         f"[definitions] has {', '.join(sorted(known))}")
    values = {}
    for key, low, high in (("window_days", 28, 365), ("high_frequency", 3, 100), ("escalation", 2, 100)):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{key} must be a whole number from {low} to {high}, not {value!r}")
            values[key] = value
    return Definitions(**values)


@lru_cache(maxsize=8)
def _cached(path: str, modified: float) -> TargetsConfig:
    return load_targets(path)


def current() -> TargetsConfig:
    """The targets file in use (`targets_path()`), read again only when it changes.
    Raises BriefingConfigError when it cannot be used."""
    path = targets_path()
    try:
        modified = path.stat().st_mtime
    except OSError:
        modified = -1.0
    return _cached(str(path), modified)


def definitions() -> Definitions:
    """The definitions in use; DESIGN.md's when the targets file cannot be used (the pages that
    rest on them say the file is unusable: see `current`)."""
    try:
        return current().definitions
    except BriefingConfigError:
        return Definitions()


