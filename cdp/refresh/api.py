"""A client for the police.uk data API (https://data.police.uk/docs/), standard library only.

It keeps to the API's published limits: at most 15 requests a second on average (a token bucket
lets short bursts through, as the API's own leaky bucket does), waits and tries again when the
API answers 429 Too Many Requests (honouring Retry-After) or when the network fails, and sends
a polygon by POST when the GET request's URL would be longer than 4,094 characters.
"""
from __future__ import annotations

import email.utils
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timezone
from typing import Any, Callable

DEFAULT_API = "https://data.police.uk/api"
MAX_GET_URL = 4094
RATE_PER_SECOND = 15.0
BURST = 15
USER_AGENT = "cdp-community-safety-dashboard (Nottingham Crime and Drugs Partnership)"


def api_url() -> str:
    """The API's base URL: CDP_POLICE_API, else https://data.police.uk/api."""
    return (os.environ.get("CDP_POLICE_API", "").strip() or DEFAULT_API).rstrip("/")


class ApiError(Exception):
    """police.uk could not answer; the message names the request and the reason."""


class NotFound(ApiError):
    """404: e.g. a point that lies in no police neighbourhood."""


class TooManyCrimes(ApiError):
    """503 on a crimes request: police.uk answers 503 when an area holds more than 10,000 crimes."""


class TokenBucket:
    """At most `rate` calls a second on average, bursts of up to `burst` at once."""

    def __init__(self, rate: float = RATE_PER_SECOND, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate, self.capacity = float(rate), float(burst)
        self.tokens, self.clock, self.sleep = float(burst), clock, sleep
        self.updated = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Wait for a token; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
            if wait:
                self.sleep(wait)
                self.tokens, self.updated = 1.0, self.clock()
            self.tokens -= 1
            return wait


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class PoliceApi:
    """The methods a refresh needs. `on_wait(seconds, reason)` hears about every back-off."""

    def __init__(self, base_url: str | None = None, *, rate: float = RATE_PER_SECOND, burst: int = BURST,
                 timeout: float = 120.0, attempts: int = 8, backoff: float = 1.0, max_backoff: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep,
                 on_wait: Callable[[float, str], None] | None = None):
        self.base_url = (base_url or api_url()).rstrip("/")
        self.bucket = TokenBucket(rate, burst, sleep=sleep)
        self.timeout, self.attempts = timeout, attempts
        self.backoff, self.max_backoff = backoff, max_backoff
        self.sleep, self.on_wait = sleep, on_wait
        self.requests = 0  # HTTP requests sent, retries included

    # -- the API's methods ---------------------------------------------------------------------
    def last_updated(self) -> date:
        """`crime-last-updated`: the date police.uk last updated its crime data."""
        answer = self.get("crime-last-updated")
        try:
            return date.fromisoformat(str(answer["date"])[:10])
        except (KeyError, TypeError, ValueError):
            raise ApiError(f"{self.base_url}/crime-last-updated: unexpected answer {str(answer)[:200]}") from None

    def street_dates(self) -> list[str]:
        """`crimes-street-dates`: the months police.uk holds street-level crimes for, oldest first."""
        answer = self.get("crimes-street-dates")
        try:
            return sorted({str(item["date"])[:7] for item in answer})
        except (KeyError, TypeError):
            raise ApiError(f"{self.base_url}/crimes-street-dates: unexpected answer {str(answer)[:200]}") from None

    def categories(self, month: str) -> dict[str, str]:
        """`crime-categories`: slug -> name (as street files write it) for that month."""
        answer = self.get("crime-categories", {"date": month})
        try:
            return {str(c["url"]): str(c["name"]) for c in answer}
        except (KeyError, TypeError):
            raise ApiError(f"{self.base_url}/crime-categories: unexpected answer {str(answer)[:200]}") from None

    def forces(self) -> dict[str, str]:
        """`forces`: force id -> name ("nottinghamshire" -> "Nottinghamshire Police")."""
        answer = self.get("forces")
        try:
            return {str(f["id"]): str(f["name"]) for f in answer}
        except (KeyError, TypeError):
            raise ApiError(f"{self.base_url}/forces: unexpected answer {str(answer)[:200]}") from None

    def locate_force(self, lat: float, lng: float) -> str | None:
        """`locate-neighbourhood`: the id of the force policing a point, None where none does."""
        try:
            answer = self.get("locate-neighbourhood", {"q": f"{lat:.6f},{lng:.6f}"})
        except NotFound:
            return None
        force = answer.get("force") if isinstance(answer, dict) else None
        return str(force) if force else None

    def street_crimes(self, category: str, poly: str, month: str) -> list[dict]:
        """`crimes-street/<category>` inside a polygon for one month (TooManyCrimes on 503)."""
        answer = self.get(f"crimes-street/{category}", {"poly": poly, "date": month}, polygon=True)
        if not isinstance(answer, list):
            raise ApiError(f"{self.base_url}/crimes-street/{category} {month}: unexpected answer "
                           f"{str(answer)[:200]}")
        return answer

    # -- HTTP ------------------------------------------------------------------------------------
    def get(self, path: str, params: dict | None = None, polygon: bool = False) -> Any:
        """One API call: the answer as JSON, after waits and retries; ApiError when it fails."""
        query = urllib.parse.urlencode(params or {}, safe=",:")
        url = f"{self.base_url}/{path}" + (f"?{query}" if query else "")
        if len(url) > MAX_GET_URL:
            request = lambda: urllib.request.Request(  # noqa: E731
                f"{self.base_url}/{path}", data=query.encode(), method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT})
        else:
            request = lambda: urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: E731
        what = f"{self.base_url}/{path}" + (f" ({params['date']})" if params and "date" in params else "")
        problem = ""
        for attempt in range(1, self.attempts + 1):
            self.bucket.take()
            self.requests += 1
            try:
                with urllib.request.urlopen(request(), timeout=self.timeout) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 429:
                    problem = "429 Too Many Requests"
                    self._wait(retry_after(exc.headers.get("Retry-After")) or self._delay(attempt),
                               f"police.uk asked us to slow down ({problem})")
                    continue
                if exc.code == 503 and polygon:
                    raise TooManyCrimes(f"{what}: 503, more than police.uk's 10,000 crimes per request") from None
                if exc.code == 404:
                    raise NotFound(f"{what}: 404 Not Found") from None
                if exc.code in (500, 502, 503, 504):
                    problem = f"HTTP {exc.code} {exc.reason}"
                    self._wait(self._delay(attempt), f"police.uk answered {problem}")
                    continue
                raise ApiError(f"{what}: HTTP {exc.code} {exc.reason}") from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                problem = f"network error: {getattr(exc, 'reason', exc)}"
                self._wait(self._delay(attempt), problem)
                continue
            try:
                return json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError(f"{what}: the answer is not JSON ({exc})") from None
        raise ApiError(f"{what}: gave up after {self.attempts} attempts ({problem})")

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))

    def _wait(self, seconds: float, reason: str) -> None:
        if self.on_wait:
            self.on_wait(seconds, reason)
        self.sleep(seconds)
