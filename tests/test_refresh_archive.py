"""`refresh police-uk --archive`: the police.uk bulk archive, every force's files, of which only
the forces policing the loaded wards are imported, month by month."""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from cdp.police_uk_format import street_frame
from cdp.refresh import RefreshFailed
from cdp.refresh.archive import refresh_from_archive
from conftest import WARDS_FILE, police_uk_month, random_points_in

MONTHS = ["2024-01", "2024-02", "2024-03"]


def neighbour_month(county, month: str, seed: int, in_city: int = 3) -> pd.DataFrame:
    """A neighbouring force's month: rows to the west of the county, a few in the city (as near a
    force boundary, where another force's records can fall inside the area)."""
    rng = np.random.default_rng(seed)
    lng, lat = random_points_in(county, 300, rng)
    lng = lng - 0.7
    city_lng, city_lat = (random_points_in(county[county["district_code"] == "E06000018"], in_city, rng)
                          if in_city else (np.array([]), np.array([])))
    lng, lat = np.round(np.concatenate([lng, city_lng]), 6), np.round(np.concatenate([lat, city_lat]), 6)
    cats = pd.Series(rng.choice(["Burglary", "Anti-social behaviour", "Shoplifting"], len(lng)))
    return street_frame(month, cats, pd.Series(lng), pd.Series(lat),
                        pd.Series(["Derby Road"] * len(lng)), force="Derbyshire Constabulary", seed=seed)


def btp_month(county, month: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lng, lat = random_points_in(county[county["district_code"] == "E06000018"], 12, rng)
    return street_frame(month, pd.Series(["Theft from the person"] * 12), pd.Series(np.round(lng, 6)),
                        pd.Series(np.round(lat, 6)), pd.Series(["Station"] * 12),
                        force="British Transport Police", seed=seed)


@pytest.fixture
def archive(tmp_path, county):
    """An archive laid out as police.uk's: YYYY-MM/YYYY-MM-<force>-street.csv for every force,
    with outcomes and stop-and-search files beside them."""
    path = tmp_path / "2024-03.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for i, month in enumerate(MONTHS):
            files = {"nottinghamshire": police_uk_month(county, month, 400, seed=i),
                     "derbyshire": neighbour_month(county, month, seed=10 + i),
                     "btp": btp_month(county, month, seed=20 + i)}
            for slug, frame in files.items():
                z.writestr(f"{month}/{month}-{slug}-street.csv", frame.to_csv(index=False))
            z.writestr(f"{month}/{month}-nottinghamshire-outcomes.csv", "Crime ID,Month,Reported by\n")
            z.writestr(f"{month}/{month}-nottinghamshire-stop-and-search.csv", "Type,Date,Part of a policing operation\n")
    return path


def test_the_archive_imports_the_areas_forces_month_by_month(db, archive):
    result = refresh_from_archive(db, archive, boundaries=WARDS_FILE)
    assert result.plan.forces == {"nottinghamshire": "Nottinghamshire Police"}
    assert [m.month for m in result.loaded] == MONTHS
    rows = dict(db.execute("SELECT source, count(*) FROM incidents GROUP BY 1").fetchall())
    with zipfile.ZipFile(archive) as z:
        expected = {name: sum(len(pd.read_csv(z.open(f"{m}/{m}-{slug}-street.csv"))) for m in MONTHS)
                    for slug, name in [("nottinghamshire", "Nottinghamshire Police"),
                                       ("btp", "British Transport Police")]}
    assert rows == expected  # the force's whole files and BTP's; the neighbouring force left out
    assert db.execute("SELECT count(*) FROM imports").fetchall()[0][0] == 3
    assert "Loaded 3 month(s) from police.uk archive" in result.summary()

    again = refresh_from_archive(db, archive)
    assert again.plan.months == [] and again.plan.held == MONTHS
    replaced = refresh_from_archive(db, archive, since="2024-03", replace=True)
    assert [m.month for m in replaced.loaded] == ["2024-03"]
    assert dict(db.execute("SELECT source, count(*) FROM incidents GROUP BY 1").fetchall()) == rows


def test_archive_dry_run_and_window(db, archive):
    result = refresh_from_archive(db, archive, boundaries=WARDS_FILE, months=2, dry_run=True)
    assert result.plan.months == ["2024-02", "2024-03"]
    assert "Would fetch 2 month(s): 2024-02, 2024-03" in result.summary()
    assert db.execute("SELECT count(*) FROM incidents").fetchall()[0][0] == 0


def test_an_archive_of_another_area_or_not_an_archive_is_refused(db, tmp_path, county):
    elsewhere = tmp_path / "elsewhere.zip"
    with zipfile.ZipFile(elsewhere, "w") as z:
        z.writestr("2024-01/2024-01-derbyshire-street.csv",
                   neighbour_month(county, "2024-01", seed=1, in_city=0).to_csv(index=False))
    with pytest.raises(RefreshFailed, match="none of its 2024-01 street files has incidents inside the "
                                            r"loaded wards \(derbyshire\)"):
        refresh_from_archive(db, elsewhere, boundaries=WARDS_FILE)
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    with pytest.raises(RefreshFailed, match="bad.zip: not a readable zip archive"):
        refresh_from_archive(db, bad, boundaries=WARDS_FILE)
    empty = tmp_path / "outcomes.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("2024-01/2024-01-nottinghamshire-outcomes.csv", "Crime ID\n")
    with pytest.raises(RefreshFailed, match="holds no police.uk street files"):
        refresh_from_archive(db, empty, boundaries=WARDS_FILE)
    assert db.execute("SELECT count(*) FROM incidents").fetchall()[0][0] == 0


def test_a_bad_row_in_the_archive_fails_that_month_with_file_and_line(db, archive, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(broken, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "2024-02/2024-02-nottinghamshire-street.csv":
                data = data.replace(b",2024-02,", b",2024-13,", 1)
            out.writestr(info.filename, data)
    with pytest.raises(RefreshFailed) as failed:
        refresh_from_archive(db, broken, boundaries=WARDS_FILE)
    message = str(failed.value)
    assert message.startswith("2024-02: import failed, nothing was loaded")
    assert f"{broken}!2024-02/2024-02-nottinghamshire-street.csv line 2: Month '2024-13' is not YYYY-MM" in message
    assert "The months loaded before it stay in the store (2024-01)" in message
    months = [r[0] for r in db.execute("SELECT DISTINCT strftime(month, '%Y-%m') FROM incidents ORDER BY 1").fetchall()]
    assert months == ["2024-01"]
