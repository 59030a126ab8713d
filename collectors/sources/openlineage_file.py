"""``openlineage-file``: OpenLineage JSONL files, as the client's file transport writes them.

Contract: ``paths`` names files, folders (every file in them, not recursive) or globs;
the files are read in name order, which for the transport's non-append mode
(``{log_file_path}-{YYYYmmdd-HHMMSS.ffffff}.json``) is the order they were written. Each
line is one event, read by ``jsonsafe.loads`` and converted by ``records_from_event``
(which validates it; a run id already another job's is a conflict); batches hold
``batch_size`` events. Every warning names the file and line (``{file}:{line number}``).

Watermark: ``{file}:{byte offset}`` just after the last whole line read, kept per set of
paths (``watermark_key``: another file collected into the same store has its own). Every file that
sorts before ``{file}`` has been read to its end. A line without its newline yet is a
write in progress and is left for the next read, so appending to a file resumes exactly.
A file that has become shorter than its offset was rewritten, not appended: it is read
again from the start (with a warning; records are idempotent). A line that cannot be
read or is refused (not JSON, not UTF-8, hostile values, not a RunEvent) is a warning,
never a crash, and costs only itself: the watermark moves past it with its batch.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import attr

from crossline.collectors import jsonsafe
from crossline.collectors.door import RunJobs
from crossline.collectors.log import CollectWarning
from crossline.collectors.openlineage import ConversionReport, run_ids
from crossline.collectors.sources import Batch, Source, add_event
from crossline.errors import ConfigError, HostileInput, InvalidEvent, SourceError

SOURCE = "openlineage-file"


def _paths(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(p, str | Path) for p in items):
        raise ConfigError(f"openlineage-file: 'paths' must be a path or a list of paths, got {value!r}")
    return tuple(str(p) for p in items)


def _batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"openlineage-file: 'batch_size' must be an integer >= 1, got {value!r}")
    return value


@attr.define(frozen=True)
class OpenLineageFileConfig:
    paths: tuple[str, ...] = attr.field(converter=_paths)
    batch_size: int = attr.field(default=500, converter=_batch_size)

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> OpenLineageFileConfig:
        unknown = set(params) - {"paths", "path", "batch_size", "name"}
        if unknown:
            raise ConfigError(f"openlineage-file: unknown option(s) {sorted(unknown)}")
        paths = params.get("paths", params.get("path"))
        if paths is None:
            raise ConfigError("openlineage-file: 'paths' is required (a file, folder or glob)")
        return cls(paths=paths, batch_size=params.get("batch_size", 500))


def parse_watermark(watermark: str) -> tuple[str, int]:
    file, sep, offset = watermark.rpartition(":")
    if not sep or not file or not offset.isdigit():
        raise SourceError(f"openlineage-file: watermark {watermark!r} is not '{{file}}:{{byte offset}}'")
    return file, int(offset)


class OpenLineageFileSource(Source):
    kind: ClassVar[str] = SOURCE
    checks_records: ClassVar[bool] = True  # every record comes through records_from_event
    config_class = OpenLineageFileConfig

    def __init__(self, config: OpenLineageFileConfig, name: str | None = None) -> None:
        super().__init__(name)
        self.config = config

    @classmethod
    def from_config(cls, params: Mapping[str, Any]) -> OpenLineageFileSource:
        return cls(OpenLineageFileConfig.from_dict(params), name=params.get("name"))

    @property
    def watermark_key(self) -> str:
        """``openlineage-file <path>[,<path>...]``: each set of paths read keeps its own
        watermark, so collecting ``b.jsonl`` after ``a.jsonl`` into one store reads both."""
        if self.name != self.kind:
            return self.name
        specs = sorted(str(Path(spec).expanduser().absolute()) for spec in self.config.paths)
        return f"{self.kind} {','.join(specs)}"

    def files(self) -> list[str]:
        """Every file the paths name, in name order (absolute, so a watermark compares).

        A path that is no file, no folder and no glob (``*?[``) is a ``ConfigError``: a
        typo must not read as "no events"."""
        found: set[str] = set()
        for spec in self.config.paths:
            path = Path(spec).expanduser()
            if path.is_dir():
                found.update(str(p.resolve()) for p in path.iterdir() if p.is_file())
            elif path.is_file():
                found.add(str(path.resolve()))
            elif any(mark in str(path) for mark in "*?["):
                found.update(str(Path(p).resolve()) for p in glob.glob(str(path)) if Path(p).is_file())
            else:
                raise ConfigError(f"openlineage-file: {spec} is no file or folder; give a JSON Lines file, "
                                  "a folder of them or a glob")
        return sorted(found)

    def _start(self, since: str | None) -> list[tuple[str, int]]:
        files = self.files()
        if since is None:
            return [(f, 0) for f in files]
        done, offset = parse_watermark(since)
        return [(f, offset if f == done else 0) for f in files if f >= done]

    def read(self, since: str | None) -> Iterator[Batch]:
        batch, yielded = Batch(watermark=since), since
        pending: list[tuple[str, bytes]] = []
        runs = self.runs if self.runs is not None else RunJobs()
        for file, offset in self._start(since):
            for number, end, line in self._lines(file, offset, batch):
                batch.watermark = f"{file}:{end}"
                if not line.strip():
                    continue  # a blank line is no event
                batch.scanned += 1
                pending.append((f"{file}:{number}", line))
                if batch.scanned >= self.config.batch_size:
                    self._convert(pending, batch, runs)
                    yield batch
                    yielded, pending = batch.watermark, []
                    batch = Batch(watermark=batch.watermark)
        self._convert(pending, batch, runs)
        if batch.scanned or batch.warnings or batch.watermark != yielded:
            yield batch

    def total(self, since: str | None) -> int | None:
        """Lines to read: counted, cheap next to parsing them."""
        count = 0
        for file, offset in self._start(since):
            with open(file, "rb") as handle:
                handle.seek(offset)
                while chunk := handle.read(1 << 20):
                    count += chunk.count(b"\n")
        return count

    def _lines(self, file: str, offset: int, batch: Batch) -> Iterator[tuple[int, int, bytes]]:
        """``(line number, offset after the line, line)`` for each whole line from ``offset``."""
        try:
            handle = open(file, "rb")
        except OSError as err:
            raise SourceError(f"openlineage-file: cannot read {file}: {err}") from err
        with handle:
            size = handle.seek(0, 2)
            if size < offset:
                batch.warnings.append(CollectWarning(
                    SOURCE, f"{file}:{offset}",
                    f"the file is shorter ({size} bytes) than its watermark ({offset}): rewritten; reading it again",
                    "note"))
                offset = 0
            number = _lines_before(handle, offset)
            handle.seek(offset)
            position = offset
            while True:
                line = handle.readline()
                if not line.endswith(b"\n"):
                    return  # end of file, or a line still being written
                number += 1
                position += len(line)
                yield number, position, line

    def _convert(self, pending: list[tuple[str, bytes]], batch: Batch, runs: RunJobs) -> None:
        """Each pending line to records in ``batch``; a line refused is a warning naming file and line."""
        events: list[tuple[str, Any]] = []
        for where, line in pending:
            try:
                events.append((where, jsonsafe.loads(line, "the line", check=False)))  # the converter checks
            except InvalidEvent as err:
                kind = "hostile" if isinstance(err, HostileInput) else "unreadable"
                events.append((where, CollectWarning(SOURCE, where, f"event rejected: {err}", kind)))
        runs.prefetch(run_ids(event for _, event in events))
        report = ConversionReport()
        for where, event in events:  # in line order, warnings too
            if isinstance(event, CollectWarning):
                batch.warnings.append(event)
                continue
            add_event(batch, event, source=SOURCE, where=where, report=report, runs=runs)


def _lines_before(handle: BinaryIO, offset: int) -> int:
    """How many lines end before ``offset`` (to number the lines read after it)."""
    handle.seek(0)
    count, left = 0, offset
    while left > 0 and (chunk := handle.read(min(left, 1 << 20))):
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count
