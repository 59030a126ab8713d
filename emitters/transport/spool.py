"""The on-disk spool of OpenLineage events the backend did not take.

Contract:

- **Layout.** One folder. Each pending event is one file ``<time_ns>-<seq>-<pid>.json``
  directly in it, holding the exact serialized JSON that would have been POSTed.
  Fixed-width fields make the names sort as the events were spooled: by wall-clock
  nanoseconds (kept strictly increasing within a process), then a per-process sequence,
  then the pid, so order across processes (Airflow forks) is the emit order as well as
  the clock allows. ``rejected/`` holds events the backend refused, each next to a
  ``<name>.response.json`` with the backend's answer. ``tmp/`` holds half-written files;
  ``.lock`` is the drain lock.
- **Atomic writes.** A file is written (and fsynced, unless told not to) under ``tmp/``
  and renamed into place, so a reader never sees a partial event, and a crash leaves at
  most a stray file in ``tmp/`` that is never sent.
- **One drainer at a time.** ``lock()`` takes an exclusive ``fcntl.flock`` on ``.lock``;
  whoever holds it may send and delete pending files. Writers never need it.
- **Bounded.** ``put`` refuses (``SpoolFull``) an event that would take the folder (pending,
  rejected and tmp together) over ``max_bytes``. The bound is soft across processes: a
  writer checks against a scan at most a second old plus its own writes since, so other
  processes' writes within that second can take the folder a little over the bound.

The spool raises typed errors (``SpoolFull``, ``ConfigError``); it never decides what
to do about them, the transport does.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import attr

from crossline.errors import ConfigError, SpoolFull
from crossline.times import UTC, now, stamp

SUFFIX = ".json"
RESPONSE_SUFFIX = ".response.json"
REJECTED = "rejected"
TMP = "tmp"
LOCK = ".lock"
USAGE_RESCAN_SECONDS = 1.0


@attr.define(frozen=True)
class FolderStatus:
    count: int
    bytes: int
    oldest: str | None  # ISO time the oldest file was spooled, from its name

    def as_dict(self) -> dict[str, Any]:
        return attr.asdict(self)


@attr.define(frozen=True)
class SpoolStatus:
    directory: str
    max_bytes: int
    pending: FolderStatus
    rejected: FolderStatus

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "max_bytes": self.max_bytes,
            "pending": self.pending.as_dict(),
            "rejected": self.rejected.as_dict(),
        }


# Names must be unique and increasing within a process even if two events are spooled
# in the same nanosecond or the clock steps back; a fork inherits the counters, and the
# pid in the name keeps parent and child apart.
_name_lock = threading.Lock()
_seq = itertools.count()
_last_ns = 0


def _next_name() -> str:
    global _last_ns
    with _name_lock:
        now = max(time.time_ns(), _last_ns + 1)
        _last_ns = now
        return f"{now:020d}-{next(_seq) % 10**9:09d}-{os.getpid():07d}{SUFFIX}"


def spooled_at(name: str) -> str | None:
    """The ISO time encoded in a spool file name, or None for a foreign name."""
    head = name.split("-", 1)[0]
    if not head.isdigit():
        return None
    return stamp(datetime.fromtimestamp(int(head) / 1e9, tz=UTC))


class Spool:
    def __init__(self, directory: Path, max_bytes: int, *, fsync: bool = True) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"spool max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.rejected_dir = self.directory / REJECTED
        self.tmp_dir = self.directory / TMP
        self.lock_path = self.directory / LOCK
        self._known_usage: int | None = None
        self._scanned_at = 0.0
        try:
            for folder in (self.directory, self.rejected_dir, self.tmp_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"cannot create the lineage spool folder {self.directory}: {err}") from err

    # -- reading -----------------------------------------------------------------------
    def pending(self) -> list[Path]:
        """Pending event files, oldest first."""
        return [self.directory / name for name in self.pending_names()]

    def pending_names(self) -> list[str]:
        """Names of the pending event files, oldest first (cheaper than ``pending``)."""
        return sorted(self._pending_names())

    def count_pending(self) -> int:
        return sum(1 for _ in self._pending_names())

    def has_pending(self) -> bool:
        return next(iter(self._pending_names()), None) is not None

    def _pending_names(self) -> Iterator[str]:
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                    yield entry.name

    def usage(self) -> int:
        """Bytes of every file under the spool folder (pending, rejected, tmp)."""
        return sum(_folder_bytes(folder) for folder in (self.directory, self.rejected_dir, self.tmp_dir))

    def status(self) -> SpoolStatus:
        pending = self.pending()
        rejected = sorted(
            p for p in self.rejected_dir.iterdir() if p.name.endswith(SUFFIX) and not p.name.endswith(RESPONSE_SUFFIX)
        )
        return SpoolStatus(
            directory=str(self.directory),
            max_bytes=self.max_bytes,
            pending=_folder_status(pending),
            rejected=_folder_status(rejected),
        )

    # -- writing -----------------------------------------------------------------------
    def put(self, body: str) -> Path:
        """Spool one serialized event; returns its file. ``SpoolFull`` past the bound."""
        data = body.encode("utf-8")
        used = self._usage_for(len(data))
        if used + len(data) > self.max_bytes:
            raise SpoolFull(
                f"lineage spool {self.directory} holds {used} bytes; one more event of "
                f"{len(data)} bytes would exceed max_bytes={self.max_bytes}"
            )
        name = _next_name()
        tmp = self.tmp_dir / name
        self._write(tmp, data)
        target = self.directory / name
        os.replace(tmp, target)
        self._known_usage = used + len(data)
        return target

    def _usage_for(self, size: int) -> int:
        """Usage, rescanned when the last scan is over a second old or the bound is near.

        Scanning (one stat per file) on every write made spooling quadratic in the
        backlog; between scans we add what this process wrote. Other processes' writes
        since the last scan are unseen for at most ``USAGE_RESCAN_SECONDS``.
        """
        now = time.monotonic()
        if (
            self._known_usage is None
            or now - self._scanned_at > USAGE_RESCAN_SECONDS
            or self._known_usage + size > self.max_bytes
        ):
            self._known_usage = self.usage()
            self._scanned_at = now
        return self._known_usage

    def reject(self, body: str, status: int | None, answer: str, name: str | None = None) -> Path:
        """Keep a refused event in ``rejected/`` with the backend's answer.

        ``name`` is the pending file it came from (then that file is removed), or None
        for an event that was never spooled. Rejected events are kept whatever the bound:
        they are evidence someone must read.
        """
        name = name or _next_name()
        answer_doc = {
            "status": status,
            "answer": answer,
            "rejected_at": stamp(now()),
        }
        self._write_atomic(self.rejected_dir / (name[: -len(SUFFIX)] + RESPONSE_SUFFIX),
                           json.dumps(answer_doc, indent=2).encode("utf-8"))
        self._write_atomic(self.rejected_dir / name, body.encode("utf-8"))
        pending = self.directory / name
        pending.unlink(missing_ok=True)
        return self.rejected_dir / name

    def remove(self, path: Path) -> None:
        """Forget a pending event after the backend took it (2xx)."""
        path.unlink(missing_ok=True)

    def _write_atomic(self, target: Path, data: bytes) -> None:
        tmp = self.tmp_dir / (target.name + f".{os.getpid()}.tmp")
        self._write(tmp, data)
        os.replace(tmp, target)

    def _write(self, path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    # -- locking -----------------------------------------------------------------------
    @contextmanager
    def lock(self, wait: float = 0.0) -> Iterator[bool]:
        """Hold the drain lock; yields False if it could not be had within ``wait`` seconds.

        Each call opens the lock file afresh: flock belongs to the open file description,
        so threads and forked children each compete for it on their own.
        """
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as err:
                    if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.02)
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _folder_bytes(folder: Path) -> int:
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False) and entry.name != LOCK:
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:  # drained or renamed while we looked
                    continue
    except FileNotFoundError:
        return 0
    return total


def _folder_status(files: list[Path]) -> FolderStatus:
    size = 0
    for path in files:
        try:
            size += path.stat().st_size
        except FileNotFoundError:
            continue
    return FolderStatus(count=len(files), bytes=size, oldest=spooled_at(files[0].name) if files else None)
