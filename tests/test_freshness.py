"""Age is visible: the period each source covers on every page, a warning when the newest month
is older than expected, and the Data page's "Refresh from police.uk" for analysts."""
from __future__ import annotations

import re
import shutil
from datetime import date

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from cdp import freshness
from cdp.ingest import ingest
from cdp.police_uk_format import street_frame, write_street_csv
from conftest import ROOT, WARDS_FILE
from police_api_stub import city, month_back, stub  # noqa: F401

CASTLE = (-1.1505, 52.9510)


def police_uk_months(db, tmp_path, months: list[str]) -> None:
    files = [write_street_csv(street_frame(m, pd.Series(["Burglary", "Anti-social behaviour"]),
                                           pd.Series([CASTLE[0]] * 2), pd.Series([CASTLE[1]] * 2),
                                           pd.Series(["Market Square"] * 2), seed=i), tmp_path / "pu")
             for i, m in enumerate(months)]
    ingest(db, "police_uk", files, boundaries=WARDS_FILE)


def partner_months(db, tmp_path, months: list[str], source: str = "council_asb") -> None:
    path = tmp_path / "extract.csv"
    lines = ["incident_id,source,occurred_at,category,longitude,latitude"]
    lines += [f"A{i},{source},{m},Noise,{CASTLE[0]},{CASTLE[1]}" for i, m in enumerate(months)]
    path.write_text("\n".join(lines) + "\n")
    ingest(db, "partner", [path], boundaries=WARDS_FILE)


def test_months_by_source_and_gaps(db, tmp_path):
    police_uk_months(db, tmp_path, ["2026-07", "2026-09"])
    partner_months(db, tmp_path, ["2026-05", "2026-10"])
    covered = freshness.months_by_source(db)
    assert covered[("police_uk", "Nottinghamshire Police")] == [date(2026, 7, 1), date(2026, 9, 1)]
    age = freshness.data_age(db, today=date(2026, 12, 1))
    police = next(s for s in age.sources if s.dataset == "police_uk")
    assert police.missing == (date(2026, 8, 1),) and police.period == "Jul 2026 to Sep 2026 (1 month with no data)"
    assert age.covers() == [("partner extract", [(["council_asb"], "May 2026 to Oct 2026 (4 months with no data)")]),
                            ("police.uk", [(["Nottinghamshire Police"], "Jul 2026 to Sep 2026 (1 month with no data)")])]


@pytest.mark.parametrize("today, stale", [
    (date(2026, 12, 1), []),                      # September is out by December: on time
    (date(2026, 12, 31), []),
    (date(2027, 1, 2), ["police_uk"]),            # by January, October should be out
    (date(2027, 2, 1), ["partner", "police_uk"]),  # partner extracts: the month before last
])
def test_stale_when_the_newest_month_is_older_than_expected(db, tmp_path, today, stale):
    police_uk_months(db, tmp_path, ["2026-08", "2026-09"])
    partner_months(db, tmp_path, ["2026-11"])
    age = freshness.data_age(db, today=today)
    assert sorted({s.dataset for s in age.stale()}) == stale
    warnings = age.warnings()
    assert len(warnings) == len(stale)
    if "police_uk" in stale:
        text = next(w for w in warnings if w.startswith("The police.uk data"))
        assert "Nottinghamshire Police ends September 2026" in text
        assert "police.uk normally publishes each month within about two months" in text
        assert "refresh from police.uk on the Data page" in text and "python -m cdp refresh police-uk" in text


def test_a_force_with_nothing_in_the_newest_month_is_not_late(db, tmp_path):
    police_uk_months(db, tmp_path, ["2026-08", "2026-09"])
    btp = street_frame("2026-08", pd.Series(["Theft from the person"]), pd.Series([CASTLE[0]]),
                       pd.Series([CASTLE[1]]), pd.Series(["Station"]), force="British Transport Police")
    ingest(db, "police_uk", [write_street_csv(btp, tmp_path / "btp", "btp")])
    age = freshness.data_age(db, today=date(2026, 12, 1))
    assert len(age.sources) == 2 and not age.stale()
    assert len(freshness.data_age(db, today=date(2027, 1, 2)).stale()) == 2


def test_synthetic_demo_data_covers_a_fixed_period_and_is_never_stale(demo_db, tmp_path):
    from cdp import store
    shutil.copy(demo_db, tmp_path / "demo.duckdb")
    con = store.connect(tmp_path / "demo.duckdb", read_only=True)
    try:
        age = freshness.data_age(con, today=date(2026, 12, 1))
    finally:
        con.close()
    assert age.synthetic and not age.stale() and not age.warnings()
    # Every source ends in March 2025; all but the force's police.uk share of its last three months
    # (cdp.demo_records) start in April 2020.
    assert {s.last for s in age.sources} == {date(2025, 3, 1)}
    assert sorted({s.first for s in age.sources}) == [date(2020, 4, 1), date(2025, 1, 1)]


def shown(markdown: str) -> str:
    """Markdown-escaped text (cdp.markup.md) as it reads on the page."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def captions(at) -> str:
    return shown(" ".join(c.value for c in at.caption))


def test_every_page_says_what_period_the_data_covers_and_warns_when_old(police_uk_db, monkeypatch):
    monkeypatch.setenv("CDP_DB", str(police_uk_db))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run()
    for page in ["pages/overview.py", "pages/maps.py", "pages/trends.py", "pages/briefing.py", "pages/data.py"]:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "Data covers police.uk: Nottinghamshire Police Jan 2024 to Mar 2024." in captions(at), page
        assert any("older than expected" in w.value and "ends March 2024" in w.value for w in at.warning), page


@pytest.fixture
def open_copy(demo_db, tmp_path, monkeypatch):
    """Open a page on a copy of the demo store (this process's cached connection to the shared
    demo store would be read-write, which read-only openers elsewhere cannot share)."""
    store_copy = tmp_path / "demo-copy.duckdb"
    shutil.copy(demo_db, store_copy)
    monkeypatch.setenv("CDP_DB", str(store_copy))

    def open_page(page: str | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180).run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return open_page


def test_the_demo_says_its_period_is_fixed(open_copy):
    at = open_copy()
    assert "Synthetic demo data" in at.warning[0].value
    assert "Synthetic demo data covers partner extract: council_asb, housing, police Apr 2020 to Mar 2025" \
        in captions(at)
    assert "A fixed period, never refreshed" in captions(at)
    assert not [w for w in at.warning if "older than expected" in w.value]


def refresh_button(at):
    return next(b for b in at.button if b.label == "Refresh from police.uk")


def test_analysts_refresh_from_police_uk_on_the_data_page(open_copy, monkeypatch, stub):
    monkeypatch.setenv("CDP_POLICE_API", stub.url)
    at = open_copy("pages/data.py")
    assert "Last asked police.uk" not in captions(at)
    refresh_button(at).click().run()
    assert not at.exception, [e.value for e in at.exception]
    success = shown(at.success[0].value)
    assert "Loaded 3 month(s) from police.uk API" in success
    assert "synthetic demo incidents were removed first" in success
    expected = sum(len(stub.months[m]) for m in stub.months)
    assert 0 < int(at.metric[0].value.replace(",", "")) <= expected
    assert "Last asked police.uk" in captions(at)
    assert not [w for w in at.warning if "Synthetic" in w.value or "older than expected" in w.value]
    assert f"Nottinghamshire Police {date.fromisoformat(month_back(5) + '-01'):%b %Y} to" in captions(at)

    refresh_button(at).click().run()
    assert "Nothing to fetch" in at.success[0].value


def test_only_analysts_see_the_refresh_button(open_copy, monkeypatch):
    assert [b for b in open_copy("pages/data.py").button if b.label == "Refresh from police.uk"]
    monkeypatch.setenv("CDP_ROLE", "neighbourhood")
    at = open_copy("pages/data.py")
    assert not [b for b in at.button if b.label == "Refresh from police.uk"]
    assert "Refresh from police.uk" not in [h.value for h in at.subheader]
