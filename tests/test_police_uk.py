"""police.uk import: placement in wards, replacement of republished months, the archive zip."""
from __future__ import annotations

import zipfile

import geopandas as gpd
import pandas as pd

from cdp import queries
from cdp.ingest import ingest
from conftest import WARDS_FILE, police_uk_month
from cdp.police_uk_format import write_street_csv


def independent_ward_counts(files, wards: gpd.GeoDataFrame, crime_type=None) -> pd.Series:
    """Count street rows per ward with a plain GeoPandas spatial join, as a check on the store."""
    rows = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files])
    if crime_type:
        rows = rows[rows["Crime type"] == crime_type]
    rows = rows[rows["Longitude"] != ""]
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(rows["Longitude"].astype(float),
                                                          rows["Latitude"].astype(float)),
                              crs="EPSG:4326").to_crs(wards.crs)
    joined = gpd.sjoin(points, wards, predicate="within")
    return joined.groupby("ward_code").size()


def test_ward_counts_agree_with_an_independent_point_in_polygon_count(db, police_uk_files, wards):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    for crime_type in ["Anti-social behaviour", "Burglary"]:
        exported = queries.ward_counts(db, crime_type=crime_type).set_index("ward_code")["count"]
        expected = independent_ward_counts(police_uk_files, wards, crime_type)
        assert len(exported) == 20
        assert exported.sum() > 0
        pd.testing.assert_series_equal(exported, expected.reindex(exported.index, fill_value=0),
                                       check_names=False, check_dtype=False)


def test_asb_twins_are_distinct_and_unlocated_rows_are_kept(db, police_uk_files):
    result = ingest(db, "police_uk", police_uk_files[:1], boundaries=WARDS_FILE)
    raw = pd.read_csv(police_uk_files[0], dtype=str, keep_default_na=False)
    assert result.rows_loaded == len(raw)
    assert result.unlocated == (raw["Longitude"] == "").sum() == 3
    stored_asb = db.execute("SELECT count(*) FROM incidents WHERE category = 'Anti-social behaviour'"
                            " AND incident_id IS NULL").fetchall()[0][0]
    assert stored_asb == (raw["Crime type"] == "Anti-social behaviour").sum()
    twins = db.execute("""SELECT count(*) FROM incidents WHERE is_asb
        GROUP BY longitude, latitude, location ORDER BY 1 DESC LIMIT 1""").fetchall()[0][0]
    assert twins >= 3  # the original ASB row and its two identical twins


def test_importing_again_replaces_instead_of_doubling(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    first = queries.ward_counts(db, priority="asb")
    total = db.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
    again = ingest(db, "police_uk", police_uk_files)
    assert again.rows_replaced == total
    pd.testing.assert_frame_equal(queries.ward_counts(db, priority="asb"), first)
    assert db.execute("SELECT count(*) FROM incidents").fetchall()[0][0] == total


def test_a_republished_month_replaces_only_that_month(db, county, police_uk_files, tmp_path):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    revised = write_street_csv(police_uk_month(county, "2024-02", 100, seed=99), tmp_path / "revised")
    ingest(db, "police_uk", [revised])
    per_month = dict(db.execute("SELECT strftime(month, '%Y-%m'), count(*) FROM incidents "
                                "GROUP BY 1").fetchall())
    assert per_month["2024-02"] == len(pd.read_csv(revised))
    assert per_month["2024-01"] == len(pd.read_csv(police_uk_files[0]))


def test_archive_zip_reads_only_street_files(db, police_uk_files, tmp_path):
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in police_uk_files:
            month = f.parent.name
            z.write(f, f"{month}/{f.name}")
            z.writestr(f"{month}/{month}-nottinghamshire-outcomes.csv", "Crime ID,Month\nabc,2024-01\n")
            z.writestr(f"{month}/{month}-nottinghamshire-stop-and-search.csv", "Type,Date\nx,y\n")
    result = ingest(db, "police_uk", [archive], boundaries=WARDS_FILE)
    assert len(result.files) == 3
    assert result.rows_loaded == sum(len(pd.read_csv(f)) for f in police_uk_files)


def test_priorities_follow_the_design_table(db, police_uk_files):
    ingest(db, "police_uk", police_uk_files, boundaries=WARDS_FILE)
    rows = dict(db.execute("""SELECT category, bool_or(p_asb)::INT || bool_or(p_drugs_alcohol)::INT
        || bool_or(p_hate_crime)::INT || bool_or(p_weapons)::INT || bool_or(p_exploitation)::INT
        || bool_or(p_dsva)::INT FROM incidents GROUP BY category""").fetchall())
    assert rows["Anti-social behaviour"] == "100000"
    assert rows["Drugs"] == "010000"
    assert rows["Possession of weapons"] == "000100"
    assert rows["Violence and sexual offences"] == "000000"  # not domestic-specific
    crimes_and_asb = db.execute("SELECT bool_and(is_asb = (category = 'Anti-social behaviour')) "
                                "FROM incidents").fetchall()[0][0]
    assert crimes_and_asb


def test_another_area_in_british_national_grid_with_ons_column_names(db, county, police_uk_files, tmp_path):
    """The county's districts stand in for another partnership's wards: BNG, WD23CD/WD23NM."""
    other = county.rename(columns={"district_code": "WD23CD", "district_name": "WD23NM"}).to_crs("EPSG:27700")
    other_file = tmp_path / "other_wards.shp"
    other.to_file(other_file)
    ingest(db, "police_uk", police_uk_files, boundaries=other_file)
    exported = queries.ward_counts(db, crime_type="Violence and sexual offences").set_index("ward_code")["count"]
    expected = independent_ward_counts(police_uk_files, other.rename(
        columns={"WD23CD": "ward_code", "WD23NM": "ward_name"}), "Violence and sexual offences")
    assert len(exported) == 8
    pd.testing.assert_series_equal(exported, expected.reindex(exported.index, fill_value=0),
                                   check_names=False, check_dtype=False)
    outside = db.execute("SELECT count(*) FROM incidents WHERE location_status = 'outside_area'").fetchall()[0][0]
    assert outside == 0  # every located point of the force lies in one of the county's districts
