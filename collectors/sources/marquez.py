"""``marquez``: the lineage events Marquez holds, and its catalog of datasets and jobs.

Contract: events come from ``GET /api/v1/events/lineage`` (ascending by eventTime, paged),
which marquez-python does not cover, over one ``requests`` session; each goes through
``records_from_event``, exactly as a file's events do. For every dataset and job the
events name, marquez-python's ``get_dataset``/``get_job`` add Marquez's own view as
``marquez.*`` props (type, description, tags, source, fields, location), and ``counts``
reports namespaces, datasets and jobs. ``namespaces`` keeps only events whose job is in
one of them (the events API is global); skipped events still move the watermark.
``start``/``end`` bound the eventTimes read (``end`` defaults to the far future: Marquez's
own default ``before`` is now, and lineage may carry future times, e.g. a bed clock).

Watermark: ``{eventTime}|{n}``: the eventTime (UTC) of the last event read and how many
events at exactly that instant have been read, in the API's order. Reading resumes with
``after={eventTime}&offset={n}`` (``after`` is inclusive in Marquez), so nothing is read
twice and nothing at the boundary instant is skipped, as long as Marquez orders events
of one instant the same way each time and an event is not stored with an eventTime
earlier than the watermark after it was passed (a producer replaying a spool late). For
those, ``lookback`` (seconds) re-reads that much before the watermark on every read;
records are idempotent, so re-reading costs time, not correctness.

Errors: Marquez unreachable, or answering 5xx/429 after ``retries`` retries with
exponential backoff, is a ``SourceError`` naming the URL; any other HTTP error is a
``SourceError`` at once. A bad event is a warning naming the request that returns it
alone (``GET /api/v1/events/lineage?after=...&offset=N&limit=1``) and costs only
itself: an event the converter refuses (hostile values, not a RunEvent, a run id
another job's) and one Python cannot parse (a page that cannot be parsed is read again
an event at a time) both count toward the watermark, so resuming passes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attr
import requests
from marquez_client import MarquezClient
from marquez_client.errors import MarquezError

from crossline.collectors.door import RunJobs, record_refusal
from crossline.collectors.log import CollectWarning
from crossline.collectors.model import Node, NodeKind, dataset_id, job_id
from crossline.collectors.openlineage import ConversionReport, run_ids
from crossline.collectors.sources import Batch, Source, add_event
from crossline.errors import ConfigError, InvalidEvent, SourceError
from crossline.times import coerce, iso, parse

SOURCE = "marquez"
EPOCH = "1970-01-01T00:00:00Z"
# Marquez's default ``before`` is now; lineage may carry future times (a bed clock, a
# nominal schedule), so reads ask for everything.
END_OF_TIME = "9999-12-31T23:59:59Z"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def _positive(name: str, minimum: float = 1) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigError(f"marquez: {name!r} must be a number >= {minimum}, got {value!r}")
        return value

    return check


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"marquez: 'url' must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _namespaces(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(n, str) and n for n in items):
        raise ConfigError(f"marquez: 'namespaces' must be a name or a list of names, got {value!r}")
    return tuple(items)


def _start(value: Any) -> str:
    try:
        return iso(parse(value, "marquez: 'start'/'end'"))
    except InvalidEvent as err:
        raise ConfigError(str(err)) from err


@attr.define(frozen=True)
class MarquezConfig:
    url: str = attr.field(converter=_url)
    namespaces: tuple[str, ...] | None = attr.field(default=None, converter=_namespaces)
    start: str = attr.field(default=EPOCH, converter=_start)
    """Where reading begins without a watermark."""
    end: str = attr.field(default=END_OF_TIME, converter=_start)
    """Events at or after this time are not read (a window, e.g. for a backfill or a test)."""
    batch_size: int = attr.field(default=500, converter=_positive("batch_size"))
    page_size: int = attr.field(default=200, converter=_positive("page_size"))
    timeout: float = attr.field(default=10.0, converter=_positive("timeout", 0.001))
    retries: int = attr.field(default=3, converter=_positive("retries", 0))
    backoff: float = attr.field(default=0.5, converter=_positive("backoff", 0))
    lookback: float = attr.field(default=0, converter=_positive("lookback", 0))
    catalog: bool = attr.field(default=True, validator=attr.validators.instance_of(bool))

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> MarquezConfig:
        known = {a.name for a in attr.fields(cls)} | {"name"}
        unknown = set(params) - known
        if unknown:
            raise ConfigError(f"marquez: unknown option(s) {sorted(unknown)}")
        if "url" not in params:
            raise ConfigError("marquez: 'url' is required")
        return cls(**{k: v for k, v in params.items() if k != "name"})


@dataclass(frozen=True)
class Unreadable:
    """An event of a page that could not be parsed, in its place (it counts toward the watermark)."""

    why: str


def parse_watermark(watermark: str) -> tuple[datetime, int]:
    when, sep, count = watermark.rpartition("|")
    try:
        if not sep or not count.isdigit():
            raise InvalidEvent("no '|{n}'")
        return parse(when, "watermark"), int(count)
    except InvalidEvent as err:
        raise SourceError(f"marquez: watermark {watermark!r} is not '{{eventTime}}|{{n}}': {err}") from err


class MarquezSource(Source):
    kind: ClassVar[str] = SOURCE
    checks_records: ClassVar[bool] = True  # every record comes through records_from_event
    config_class = MarquezConfig

    def __init__(self, config: MarquezConfig, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config
        self.session = requests.Session()
        self.client = MarquezClient(url=config.url, timeout_ms=int(config.timeout * 1000))

    @classmethod
    def from_config(cls, params: Mapping[str, Any]) -> MarquezSource:
        return cls(MarquezConfig.from_dict(params), name=params.get("name"))

    # -- HTTP ------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        response = self._response(path, params)
        try:
            return response.json()  # type: ignore[no-any-return]
        except (ValueError, RecursionError) as err:
            raise SourceError(f"marquez: {response.url} answered with no JSON: {response.text[:200]!r}") from err

    def _response(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        url = f"{self.config.url}/api/v1/{path}"
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            try:
                response = self.session.get(url, params=params, timeout=self.config.timeout)
            except requests.RequestException as err:
                if last:
                    raise SourceError(f"marquez: cannot reach {url}: {err}") from err
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUS:
                    raise SourceError(f"marquez: {url} answered HTTP {response.status_code}: {response.text[:500]}")
                if last:
                    raise SourceError(
                        f"marquez: {url} answered HTTP {response.status_code} "
                        f"{self.config.retries + 1} times: {response.text[:500]}"
                    )
            time.sleep(self.config.backoff * 2**attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def events_page(self, after: datetime, offset: int, limit: int | None = None) -> list[Any]:
        """The events of one page; one that cannot be parsed is an ``Unreadable`` in its place.

        A page is parsed whole; if it cannot be (one event nested past what Python's
        parser holds, a broken answer), it is read again an event at a time, so only the
        unreadable event is lost, not the page, and resuming never stops on it.
        """
        limit = limit or self.config.page_size
        params = {"after": iso(after), "before": self.config.end, "limit": limit, "offset": offset,
                  "sortDirection": "asc"}
        response = self._response("events/lineage", params)
        try:
            page = response.json()
            events = page.get("events") if isinstance(page, Mapping) else None
            if not isinstance(events, list):
                raise ValueError("no 'events' list")
            return events
        except (ValueError, RecursionError) as err:
            if limit == 1:
                return [Unreadable(f"the event cannot be read: {type(err).__name__}: {str(err)[:200]}")]
        events = []
        for index in range(limit):
            one = self.events_page(after, offset + index, limit=1)
            if not one:
                break
            events.extend(one)
        return events

    # -- reading ---------------------------------------------------------------------
    def _anchor(self, since: str | None) -> tuple[datetime, int]:
        if since is None:
            return parse(self.config.start, "start"), 0
        when, count = parse_watermark(since)
        if self.config.lookback:
            return when - timedelta(seconds=self.config.lookback), 0
        return when, count

    def read(self, since: str | None) -> Iterator[Batch]:
        instant, count = self._anchor(since)
        batch, report, yielded = Batch(watermark=since), ConversionReport(), since
        seen: set[str] = set()
        runs = self.runs if self.runs is not None else RunJobs()
        while True:
            page_after, page_offset = instant, count
            events = self.events_page(instant, count)
            runs.prefetch(run_ids(e for e in events if self._wanted(e)))
            for index, event in enumerate(events):
                where = f"GET /api/v1/events/lineage?after={iso(page_after)}&offset={page_offset + index}&limit=1"
                when = self._event_time(event, batch, where)
                if when is None or when == instant:
                    count += 1  # an unreadable time: the API put it here, count it here
                else:
                    instant, count = when, 1
                batch.watermark = f"{iso(instant)}|{count}"
                batch.scanned += 1
                if self._wanted(event):
                    self._convert(event, batch, report, seen, runs, where)
                if batch.scanned >= self.config.batch_size:
                    yield batch
                    yielded = batch.watermark
                    batch, report = Batch(watermark=batch.watermark), ConversionReport()
            if not events:  # not "a short page": Marquez may cap the limit
                break
        if batch.scanned or batch.warnings or batch.watermark != yielded:
            yield batch

    def total(self, since: str | None) -> int | None:
        """Events after the watermark (all namespaces: the API counts globally)."""
        instant, count = self._anchor(since)
        response = self._response("events/lineage", {
            "after": iso(instant), "before": self.config.end,
            "limit": 1, "offset": 0, "sortDirection": "asc",
        })
        try:
            total = response.json().get("totalCount")
        except (ValueError, RecursionError, AttributeError):
            return None  # the first event cannot be read: read() says so; no count for the bar
        return max(total - count, 0) if isinstance(total, int) else None

    @staticmethod
    def _event_time(event: Any, batch: Batch, where: str) -> datetime | None:
        if isinstance(event, Unreadable):
            batch.warnings.append(CollectWarning(SOURCE, where, f"event rejected: {event.why}", "unreadable"))
            return None
        try:
            return parse(event.get("eventTime") if isinstance(event, Mapping) else None, "eventTime")
        except InvalidEvent:
            return None  # the converter says why it rejects the event

    def _wanted(self, event: Any) -> bool:
        if isinstance(event, Unreadable):
            return False
        if self.config.namespaces is None:
            return True
        job = event.get("job") if isinstance(event, Mapping) else None
        return isinstance(job, Mapping) and job.get("namespace") in self.config.namespaces

    def _convert(self, event: Any, batch: Batch, report: ConversionReport, seen: set[str], runs: RunJobs,
                 where: str) -> None:
        nodes, _ = add_event(batch, event, source=SOURCE, where=where, report=report, runs=runs)
        if not self.config.catalog:
            return
        for node in nodes:
            if node.kind in (NodeKind.DATASET, NodeKind.JOB) and node.id not in seen and "namespace" in node.props:
                seen.add(node.id)
                enriched = self._catalog_node(node, batch)
                if enriched is not None:
                    batch.nodes.append(enriched)

    # -- Marquez's catalog, through marquez-python ------------------------------------
    def _catalog_node(self, node: Node, batch: Batch) -> Node | None:
        ns, name = node.props["namespace"], node.props["name"]
        is_dataset = node.kind == NodeKind.DATASET
        call = "get_dataset" if is_dataset else "get_job"
        try:
            record = self.client.get_dataset(ns, name) if is_dataset else self.client.get_job(ns, name)
        except (MarquezError, requests.RequestException) as err:
            batch.warnings.append(CollectWarning(SOURCE, f"marquez-python {call}({ns!r}, {name!r})",
                                                 f"no {node.kind.value} {ns}/{name} in the catalog: {err!r}",
                                                 "unavailable"))
            return None
        keys = ("type", "description", "sourceName", "fields", "tags") if is_dataset else (
            "type", "description", "location", "tags")
        props = {f"marquez.{k}": record[k] for k in keys if record.get(k) not in (None, [], "")}
        node_id = dataset_id(ns, name) if is_dataset else job_id(ns, name)
        # The catalog's state as of its last update: that is when these facts became true.
        made = Node(node_id, node.kind, name, SOURCE, {"namespace": ns, "name": name, **props},
                    at=coerce(record.get("updatedAt")))
        why = record_refusal(made)  # Marquez's own view did not come through the converter's door
        if why is not None:
            batch.warnings.append(CollectWarning(SOURCE, f"marquez-python {call}({ns!r}, {name!r})",
                                                 f"Marquez's view of {ns}/{name} left out: {why}", "hostile"))
            return None
        return made

    def counts(self) -> dict[str, int]:
        """Namespaces, and datasets and jobs in the configured namespaces (or all)."""
        try:
            if self.config.namespaces is not None:
                names = list(self.config.namespaces)
            else:
                names = [n["name"] for n in self._all(self.client.list_namespaces, "namespaces")]
            return {
                "namespaces": len(names),
                "datasets": sum(self.client.list_datasets(n, limit=1)["totalCount"] for n in names),
                "jobs": sum(self.client.list_jobs(n, limit=1)["totalCount"] for n in names),
            }
        except (MarquezError, requests.RequestException) as err:
            raise SourceError(f"marquez: cannot count the catalog at {self.config.url}: {err!r}") from err

    @staticmethod
    def _all(call: Any, key: str, page: int = 100) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            items = call(limit=page, offset=offset)[key]
            yield from items
            if len(items) < page:
                return
            offset += page
