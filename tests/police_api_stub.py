"""A local stand-in for the police.uk data API (https://data.police.uk/docs/), for tests.

It answers the methods a refresh uses the way police.uk does: `crimes-street/<category>` inside
a polygon (503 when an answer would hold more than `limit` crimes; 400 for a GET longer than
4,094 characters, so long polygons must be POSTed), `crimes-street-dates`, `crime-last-updated`,
`crime-categories`, `forces`, `forces/<id>` and `locate-neighbourhood`; 429 with Retry-After when
called faster than its leaky bucket allows (15 a second, bursts of 30, like police.uk). Months
appear over time (`publish`), are republished, and only the latest 36 are kept. Faults can be
injected (`fail`). Every request is logged.

Run it alone to point a dashboard at it: `python tests/police_api_stub.py` prints its URL.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

MAX_GET = 4094
CATEGORIES = [  # police.uk's crime-categories since 2013 (slug, name)
    ("all-crime", "All crime"), ("anti-social-behaviour", "Anti-social behaviour"),
    ("bicycle-theft", "Bicycle theft"), ("burglary", "Burglary"),
    ("criminal-damage-arson", "Criminal damage and arson"), ("drugs", "Drugs"),
    ("other-theft", "Other theft"), ("possession-of-weapons", "Possession of weapons"),
    ("public-order", "Public order"), ("robbery", "Robbery"), ("shoplifting", "Shoplifting"),
    ("theft-from-the-person", "Theft from the person"), ("vehicle-crime", "Vehicle crime"),
    ("violent-crime", "Violence and sexual offences"), ("other-crime", "Other crime"),
]
SHARES = {  # roughly Nottingham's mix
    "anti-social-behaviour": .28, "violent-crime": .30, "shoplifting": .08, "vehicle-crime": .05,
    "burglary": .05, "criminal-damage-arson": .07, "public-order": .06, "other-theft": .04,
    "drugs": .02, "theft-from-the-person": .015, "possession-of-weapons": .01, "robbery": .01,
    "bicycle-theft": .01, "other-crime": .025,
}
STREETS = ["Parliament Street", "Alfreton Road", "Mansfield Road", "Hucknall Road", "Radford Road",
           "Supermarket", "Parking Area", "Petrol Station", "Nightclub", "Shopping Area"]


@dataclass
class Logged:
    method: str
    path: str
    category: str | None
    month: str | None
    url_length: int
    status: int


class PoliceApiStub:
    """The stub server. `forces` is {force id: (name, WGS84 polygon)} for locate-neighbourhood."""

    def __init__(self, forces: dict[str, tuple[str, object]], *, limit: int = 10_000,
                 rate: float | None = None, burst: int = 30, retry_after: int = 1):
        self.forces = forces
        self.limit, self.rate, self.burst, self.retry_after = limit, rate, burst, retry_after
        self.months: dict[str, list[dict]] = {}
        self.last_updated = date(2026, 1, 1)
        self.log: list[Logged] = []
        self.faults: list[tuple[str, str | None]] = []
        self._tokens, self._at = float(burst), time.monotonic()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control -------------------------------------------------------------------------------
    def start(self) -> "PoliceApiStub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def publish(self, month: str, crimes: list[dict], updated: date | None = None) -> None:
        """Add (or republish) a month; police.uk keeps the latest 36 only."""
        with self._lock:
            self.months[month] = crimes
            for old in sorted(self.months)[:-36]:
                del self.months[old]
            self.last_updated = updated or max(self.last_updated, date.today())

    def fail(self, count: int, how: str = "reset", month: str | None = None) -> None:
        """The next `count` crime requests (for `month`, or any) fail: 'reset' drops the
        connection, '500' or '502' answer that error."""
        with self._lock:
            self.faults += [(how, month)] * count

    def _fault(self, month: str | None) -> str | None:
        with self._lock:
            for i, (how, only) in enumerate(self.faults):
                if only is None or only == month:
                    del self.faults[i]
                    return how
        return None

    def crime_requests(self) -> list[Logged]:
        return [entry for entry in self.log if entry.path.startswith("crimes-street/")]

    # -- answers ---------------------------------------------------------------------------------
    def _allow(self) -> bool:
        if self.rate is None:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def _crimes(self, category: str, params: dict) -> tuple[int, object]:
        if category != "all-crime" and category not in dict(CATEGORIES):
            return 404, {"error": "unknown category"}
        month = params.get("date") or max(self.months)
        try:
            pairs = [tuple(map(float, p.split(","))) for p in params["poly"].split(":")]
            shape = Polygon([(lng, lat) for lat, lng in pairs])
        except (KeyError, ValueError):
            return 400, {"error": "bad poly"}
        if len(pairs) < 3 or not shape.is_valid:
            return 400, {"error": "bad poly"}
        crimes = [c for c in self.months.get(month, [])
                  if category == "all-crime" or c["category"] == category]
        if not crimes:
            return 200, []
        lng = np.array([float(c["location"]["longitude"]) for c in crimes])
        lat = np.array([float(c["location"]["latitude"]) for c in crimes])
        inside = shapely.intersects_xy(shape, lng, lat)  # points on the edge come back too
        if inside.sum() > self.limit:
            return 503, None
        return 200, [c for c, ok in zip(crimes, inside) if ok]

    def answer(self, path: str, params: dict) -> tuple[int, object]:
        if path == "crime-last-updated":
            return 200, {"date": self.last_updated.isoformat()}
        if path == "crimes-street-dates":
            return 200, [{"date": m, "stop-and-search": sorted(self.forces)}
                         for m in sorted(self.months, reverse=True)]
        if path == "crime-categories":
            return 200, [{"url": slug, "name": name} for slug, name in CATEGORIES]
        if path == "forces":
            return 200, [{"id": i, "name": name} for i, (name, _) in self.forces.items()]
        if path.startswith("forces/"):
            force = self.forces.get(path.split("/", 1)[1])
            return (200, {"id": path.split("/", 1)[1], "name": force[0]}) if force else (404, None)
        if path == "locate-neighbourhood":
            lat, lng = map(float, params["q"].split(","))
            for force, (_, shape) in self.forces.items():
                if shape.contains(shapely.Point(lng, lat)):
                    return 200, {"force": force, "neighbourhood": "NC01"}
            return 404, None
        if path.startswith("crimes-street/"):
            return self._crimes(path.split("/", 1)[1], params)
        return 404, None

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self, method: str, params: dict, url_length: int) -> None:
                path = urllib.parse.urlsplit(self.path).path.removeprefix("/api/")
                entry = Logged(method, path, path.split("/", 1)[1] if path.startswith("crimes-street/") else None,
                               params.get("date"), url_length, 0)
                stub.log.append(entry)
                if not stub._allow():
                    entry.status = 429
                    self.send_response(429)
                    self.send_header("Retry-After", str(stub.retry_after))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if method == "GET" and url_length > MAX_GET:
                    entry.status, body = 400, None
                elif path.startswith("crimes-street/") and (fault := stub._fault(params.get("date"))):
                    if fault == "reset":
                        entry.status = -1
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    entry.status, body = int(fault), None
                else:
                    entry.status, body = stub.answer(path, params)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(entry.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                query = urllib.parse.urlsplit(self.path).query
                host = f"http://127.0.0.1:{stub._server.server_address[1]}"
                self._serve("GET", dict(urllib.parse.parse_qsl(query)), len(host + self.path))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                self._serve("POST", dict(urllib.parse.parse_qsl(body)), 0)

        return Handler


# -- fixtures and helpers for tests ------------------------------------------------------------
THIS_MONTH = date.today().replace(day=1)


def month_back(k: int) -> str:
    """The month `k` months before this one, as YYYY-MM."""
    index = THIS_MONTH.year * 12 + THIS_MONTH.month - 1 - k
    return f"{index // 12}-{index % 12 + 1:02d}"


def start_stub(county: gpd.GeoDataFrame, forces: dict | None = None, **options) -> PoliceApiStub:
    """A running stub in which Nottinghamshire Police polices the county (unless `forces`)."""
    county_shape = shapely.union_all(county.to_crs(4326).geometry.values)
    forces = forces or {"nottinghamshire": ("Nottinghamshire Police", county_shape)}
    return PoliceApiStub({**forces, "btp": ("British Transport Police", Polygon())}, **options).start()


def city_month(county: gpd.GeoDataFrame, city: gpd.GeoDataFrame, month: str, seed: int, n: int = 400,
               **options) -> list[dict]:
    """`n` crimes in the city, half as many across the county, a few British Transport Police crimes."""
    return (api_crimes(city, month, n, seed, btp=n // 50, **options)
            + api_crimes(county, month, n // 2, seed + 1000, asb_twins=0, ids=options.get("ids", True)))


def client(stub: PoliceApiStub, **options):
    """A client for the stub, quicker than police.uk's limits unless told otherwise."""
    from cdp.refresh import PoliceApi
    return PoliceApi(stub.url, **{"rate": 200, "burst": 50, "backoff": 0.01, **options})


@pytest.fixture(scope="module")
def city(county) -> gpd.GeoDataFrame:
    return county[county["district_code"] == "E06000018"]


@pytest.fixture
def stub(county, city):
    """police.uk holding the three months before the usual two-month publication lag."""
    server = start_stub(county)
    for k in (5, 4, 3):
        server.publish(month_back(k), city_month(county, city, month_back(k), seed=k))
    yield server
    server.stop()


# -- real-shaped crimes ------------------------------------------------------------------------
def api_crimes(area: gpd.GeoDataFrame, month: str, n: int, seed: int, *, btp: int = 0,
               asb_twins: int = 2, twins_at: tuple[float, float] | None = None,
               points: list[tuple[float, float, str]] = (), ids: bool = True) -> list[dict]:
    """`n` crimes as police.uk's API gives them, at uniform random points of `area` (WGS84):
    persistent ids (none for ASB), ids, "On or near" streets, outcomes (none for ASB);
    `btp` British Transport Police crimes; `asb_twins` identical copies of one ASB incident (same
    point, street and month: distinct incidents), moved to `twins_at` (lng, lat) if given;
    `points` extra (lng, lat, category) crimes; `ids=False` leaves police.uk's API ids out (so
    only the Crime ID, which ASB lacks, tells crimes apart)."""
    rng = np.random.default_rng(seed)
    shape = shapely.union_all(area.to_crs("EPSG:4326").geometry.values)
    minx, miny, maxx, maxy = shape.bounds
    xs, ys = [], []
    while len(xs) < n + btp:
        x, y = rng.uniform(minx, maxx, 4 * (n + btp)), rng.uniform(miny, maxy, 4 * (n + btp))
        keep = shapely.contains_xy(shape, x, y)
        xs += list(x[keep])
        ys += list(y[keep])
    slugs = list(SHARES)
    cats = list(rng.choice(slugs, n + btp, p=np.array(list(SHARES.values())) / sum(SHARES.values())))
    spots = [(x, y, c) for x, y, c in zip(xs[:n + btp], ys[:n + btp], cats)] + list(points)
    crimes = []
    for i, (x, y, cat) in enumerate(spots):
        crimes.append(_crime(month, i, x, y, cat, rng, "BTP" if n <= i < n + btp else "Force", seed))
    asb = next((c for c in crimes if c["category"] == "anti-social-behaviour"), None)
    if asb and twins_at:
        asb["location"] = {**asb["location"], "longitude": f"{twins_at[0]:.6f}", "latitude": f"{twins_at[1]:.6f}"}
    for k in range(asb_twins if asb else 0):
        crimes.append({**asb, "id": asb["id"] + 1_000_000 + k})
    if not ids:
        for crime in crimes:
            crime.pop("id")
    return crimes


def _crime(month: str, i: int, lng: float, lat: float, category: str, rng, location_type: str,
           seed: int) -> dict:
    asb = category == "anti-social-behaviour"
    street = STREETS[int(rng.integers(len(STREETS)))]
    return {
        "category": category,
        "location_type": location_type,
        "location": {"latitude": f"{lat:.6f}", "longitude": f"{lng:.6f}",
                     "street": {"id": 1_700_000 + int(rng.integers(50_000)), "name": f"On or near {street}"}},
        "context": "",
        "outcome_status": None if asb else {"category": "Investigation complete; no suspect identified",
                                            "date": month},
        "persistent_id": "" if asb else hashlib.sha256(f"{seed}-{month}-{i}".encode()).hexdigest(),
        "id": 100_000_000 + seed * 100_000 + i,
        "location_subtype": "",
        "month": month,
    }


if __name__ == "__main__":  # a stub to point a dashboard at: CDP_POLICE_API=<the URL it prints>
    import sys
    from pathlib import Path
    districts = gpd.read_file(Path(__file__).resolve().parents[2] / "shared" / "geo" /
                              "nottinghamshire_districts.gpkg")
    city_area = districts[districts["district_code"] == "E06000018"]
    stub = start_stub(districts, limit=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, rate=15)
    for back in range(int(sys.argv[2]) if len(sys.argv) > 2 else 12, 2, -1):
        stub.publish(month_back(back), city_month(districts, city_area, month_back(back), seed=back, n=3500))
    print(stub.url, flush=True)
    threading.Event().wait()
