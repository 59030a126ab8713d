"""One POST of a spooled event, and what its answer means for the queue.

Contract: ``Poster.post(body)`` sends one serialized event the way the OpenLineage
``HttpTransport`` would (its session, auth, custom headers, gzip, TLS settings) and
returns an ``Answer``; it never raises. Every failure is classified into a ``Verdict``:

============ ======================================== ==========================================
verdict      what                                      what the queue does
============ ======================================== ==========================================
SENT         2xx                                       delete the event, go on
REFUSED      any other 4xx (400, 409, 413, 422, ...)   quarantine the event at once, go on
SETUP        401, 403, 404, 407, TLS or URL errors     hold the whole queue, charge no event: every
                                                       event would fail alike until the setup is
                                                       fixed; a separate budget (see the sender)
UNREACHABLE  no connection (refused, DNS, connect      hold the whole queue, charge no event: the
             timeout)                                  event never reached the backend
BUSY         408, 429, 503                             charge the event; retry after Retry-After
                                                       or backoff; never proof the event is bad
RETRY        other 5xx (Marquez answers 500 for JSON   charge the event; retry after backoff; at
             it cannot read), read timeout, connection the budget, quarantine once a later event
             dropped after the request was sent        has been accepted
============ ======================================== ==========================================

Redirects (3xx) are not followed when a client certificate is configured and count as
SETUP. Every ``detail`` is redacted (``crossline.redact``) and short, fit for logs.
``backoff(attempt, base, cap)`` is exponential with equal jitter; ``retry_after(value)``
reads seconds or an HTTP date.
"""

from __future__ import annotations

import email.utils
import enum
import http.client as http_client
import random
import time
from typing import TYPE_CHECKING, Any

import attr
import requests
import urllib3.exceptions

from crossline.redact import redact_text
from crossline.times import utc

if TYPE_CHECKING:
    from openlineage.client.transport.http import HttpTransport

SETUP_STATUS = frozenset({401, 403, 404, 407})
BUSY_STATUS = frozenset({408, 429, 503})


class Verdict(str, enum.Enum):
    SENT = "sent"
    REFUSED = "refused"
    SETUP = "setup"
    UNREACHABLE = "unreachable"
    BUSY = "busy"
    RETRY = "retry"

    @property
    def charged(self) -> bool:
        """Whether this failure counts against the event's attempt budget."""
        return self in (Verdict.BUSY, Verdict.RETRY)


@attr.define(frozen=True)
class Answer:
    verdict: Verdict
    status: int | None = None
    detail: str = ""  # redacted, short: for logs, state files and reasons
    body: str = ""  # the backend's answer (redacted, at most 2,000 characters)
    retry_after: float | None = None  # seconds, when the backend said


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempt``-th failure: min(cap, base*2^(n-1)), equal jitter."""
    if base <= 0:
        return 0.0
    full = min(cap, base * (2 ** min(max(attempt - 1, 0), 30)))
    return full / 2 + (rng or random).uniform(0, full / 2)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now is None else now
    return max(0.0, utc(when).timestamp() - now)


def classify(status: int, text: str, headers: Any = None, *, display_url: str = "") -> Answer:
    """The verdict on an HTTP answer."""
    body = redact_text(text[:2000])
    where = f"{display_url} answered HTTP {status}" if display_url else f"HTTP {status}"
    detail = f"{where}: {body[:300]}" if body else where
    if 200 <= status < 300:
        return Answer(Verdict.SENT, status)
    wait = retry_after((headers or {}).get("Retry-After")) if status in (429, 503) or status >= 500 else None
    if status in BUSY_STATUS:
        return Answer(Verdict.BUSY, status, detail, body, wait)
    if status >= 500:
        return Answer(Verdict.RETRY, status, detail, body, wait)
    if status in SETUP_STATUS or status < 400:
        return Answer(Verdict.SETUP, status, detail, body)
    return Answer(Verdict.REFUSED, status, detail, body)


def classify_error(err: BaseException, display_url: str = "") -> Answer:
    """The verdict on a request that got no HTTP answer."""
    detail = redact_text(f"no answer from {display_url}: {type(err).__name__}: {err}")[:500]
    if isinstance(err, requests.exceptions.SSLError) or isinstance(
        err, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
              requests.exceptions.InvalidHeader, requests.exceptions.TooManyRedirects)
    ):
        return Answer(Verdict.SETUP, None, detail)
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return Answer(Verdict.UNREACHABLE, None, detail)
    if isinstance(err, requests.exceptions.ReadTimeout):
        return Answer(Verdict.RETRY, None, detail)
    if isinstance(err, requests.exceptions.ConnectionError):
        return Answer(Verdict.UNREACHABLE if _never_connected(err) else Verdict.RETRY, None, detail)
    if isinstance(err, requests.exceptions.RequestException):
        return Answer(Verdict.RETRY, None, detail)
    return Answer(Verdict.SETUP, None, detail)


def _never_connected(err: BaseException) -> bool:
    """Whether the request failed before a connection existed (refused, DNS), so was never sent."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError,
                            ConnectionRefusedError)):
            return True
        if isinstance(cur, urllib3.exceptions.MaxRetryError):
            todo.append(cur.reason)
        todo.extend([cur.__cause__, cur.__context__, *[a for a in cur.args if isinstance(a, BaseException)]])
    return False


class Poster:
    """Sends bodies with an ``HttpTransport``'s settings; credentials from the URL go as basic auth."""

    def __init__(self, http: HttpTransport, post_url: str, display_url: str,
                 basic_auth: tuple[str, str] | None = None) -> None:
        self.http = http
        self.post_url = post_url
        self.display_url = display_url
        self.basic_auth = basic_auth

    def post(self, body: str) -> Answer:
        # Never let http.client print requests (headers hold credentials), as HttpTransport does.
        previous = http_client.HTTPConnection.debuglevel
        http_client.HTTPConnection.debuglevel = 0
        try:
            data, headers = self.http._prepare_request(body)  # auth, custom headers, gzip
            kwargs: dict[str, Any] = {"url": self.post_url, "data": data, "headers": headers,
                                      "timeout": self.http.timeout, "verify": self.http.verify}
            if self.basic_auth is not None:
                kwargs["auth"] = self.basic_auth
            if self.http.cert is not None:
                kwargs["cert"] = self.http.cert
                kwargs["allow_redirects"] = False
            response = self.http.session.post(**kwargs)
            try:
                return classify(response.status_code, response.text, response.headers, display_url=self.display_url)
            finally:
                response.close()
        except Exception as err:  # every failure becomes a verdict  # noqa: BLE001
            return classify_error(err, self.display_url)
        finally:
            http_client.HTTPConnection.debuglevel = previous

    def close(self) -> None:
        self.http.close()
