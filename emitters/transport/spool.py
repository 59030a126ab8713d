"""The on-disk queue of OpenLineage events not yet delivered, and their quarantine.

Contract:

- **Layout.** One folder (mode 0700). Each pending event is one file
  ``<time_ns>-<seq>-<pid>.json`` directly in it (mode 0600), holding the exact serialized
  JSON to POST. Fixed-width fields make names sort as events were spooled: wall-clock
  nanoseconds (strictly increasing within a process), a per-process sequence, the pid.
  Beside a pending file, ``<name>.state`` records its delivery attempts (count, when to
  try next, the last error), so a restart does not reset them. ``rejected/`` (0700) holds
  quarantined entries, each with ``<stem>.response.json``: why (``reason``), the backend's
  ``status`` and ``answer`` if it gave one, the ``attempts``, ``rejected_at``. ``tmp/``
  (0700) holds half-written files; ``.lock`` is the drain lock.
- **Atomic, durable writes.** ``put`` writes under ``tmp/``, fsyncs (unless told not to)
  and renames into place: a reader never sees a partial event; a crash leaves at most a
  stray file in ``tmp/`` that is never sent.
- **Foreign entries.** ``load(name)`` returns a pending event's text, or raises
  ``ForeignEntry`` saying why it is not one: not a regular file (a directory, a symlink,
  which is never followed, a FIFO, which is never opened blocking), larger than the
  bound, unreadable, not UTF-8, not a JSON object. It never hangs and never raises
  anything else for a bad entry.
- **Quarantine and requeue.** ``quarantine`` moves any entry (file or not) into
  ``rejected/`` with its reason; ``requeue`` moves quarantined entries back under their
  own names (so they sort by when they were first spooled) with a fresh attempt count.
- **One drainer at a time.** ``lock()`` takes an exclusive ``fcntl.flock`` on ``.lock``;
  whoever holds it may send, delete and quarantine pending entries. Writers never need it.
- **Bounded, without a scan in the writer.** ``put`` refuses (``SpoolFull``) an event that
  would take pending and quarantined entries over ``max_bytes``, judged from the last ``refresh_usage()`` (the
  background sender calls it every few seconds) plus this process's writes and deletions since. The bound
  is soft: other processes' writes since the last refresh are unseen.

The spool raises typed errors (``SpoolFull``, ``ForeignEntry``, ``ConfigError``); what to
do about them is the transport's business.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attr

from crossline.emitters.transport.quarantine import RESPONSE_SUFFIX, STATE_SUFFIX, SUFFIX, Quarantine
from crossline.emitters.transport.status import EventState, FolderStatus, SpoolStatus, spooled_at
from crossline.errors import ConfigError, CrosslineError, SpoolFull

__all__ = ["RESPONSE_SUFFIX", "STATE_SUFFIX", "SUFFIX", "ForeignEntry", "Spool"]
REJECTED = "rejected"
TMP = "tmp"
LOCK = ".lock"
DIR_MODE = 0o700
FILE_MODE = 0o600


class ForeignEntry(CrosslineError):
    """A pending entry that is not a readable spooled event; ``str(err)`` says why."""


# Names must be unique and increasing within a process even if two events are spooled
# in the same nanosecond or the clock steps back; a fork inherits the counters, and the
# pid in the name keeps parent and child apart.
_name_lock = threading.Lock()
_seq = itertools.count()
_last_ns = 0


def _reset_after_fork() -> None:
    global _name_lock
    _name_lock = threading.Lock()  # another thread may have held it at fork time


os.register_at_fork(after_in_child=_reset_after_fork)


def _next_name() -> str:
    global _last_ns
    with _name_lock:
        now = max(time.time_ns(), _last_ns + 1)
        _last_ns = now
        return f"{now:020d}-{next(_seq) % 10**9:09d}-{os.getpid():07d}{SUFFIX}"


class Spool(Quarantine):
    def __init__(self, directory: Path, max_bytes: int, *, fsync: bool = True) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"spool max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.rejected_dir = self.directory / REJECTED
        self.tmp_dir = self.directory / TMP
        self.lock_path = self.directory / LOCK
        self._usage_lock = threading.Lock()
        self._usage = 0  # bytes at the last refresh, plus our writes and deletions since
        self._recent: dict[str, int] | None = None  # our writes that landed while a refresh scans
        self._inflight: dict[str, int] = {}  # our writes not landed yet
        try:
            for folder in (self.directory, self.rejected_dir, self.tmp_dir):
                folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                _tighten(folder)
        except OSError as err:
            raise ConfigError(f"cannot create the lineage spool folder {self.directory}: {err}") from err

    def _new_name(self) -> str:
        return _next_name()

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held the parent's)."""
        self._usage_lock = threading.Lock()
        self._inflight = {}  # the parent's writes in flight are not the child's

    # -- pending entries -------------------------------------------------------------
    def pending_names(self) -> list[str]:
        """Names of the pending entries, oldest first."""
        return sorted(self._pending_names())

    def pending(self) -> list[Path]:
        return [self.directory / name for name in self.pending_names()]

    def has_pending(self) -> bool:
        return next(iter(self._pending_names()), None) is not None

    def _pending_names(self) -> Iterator[str]:
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                    yield entry.name

    def load(self, name: str) -> str:
        """The text of a pending event, or ``ForeignEntry`` saying why it is not one."""
        path = self.directory / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise
        except OSError as err:
            raise ForeignEntry(f"cannot stat it: {err.strerror or err}") from err
        if not stat.S_ISREG(info.st_mode):
            raise ForeignEntry(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > self.max_bytes:
            raise ForeignEntry(f"{info.st_size} bytes, more than the spool's max_bytes={self.max_bytes}")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise
        except OSError as err:
            raise ForeignEntry(f"cannot open it: {err.strerror or err}") from err
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since lstat
                raise ForeignEntry("not a regular file")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        except OSError as err:
            raise ForeignEntry(f"cannot read it: {err.strerror or err}") from err
        finally:
            os.close(fd)
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ForeignEntry(f"not UTF-8 ({err.reason} at byte {err.start})") from err
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise ForeignEntry(f"not JSON ({str(err)[:120]})") from err
        if not isinstance(doc, dict):
            raise ForeignEntry(f"JSON {type(doc).__name__}, not an event object")
        return text

    # -- writing -----------------------------------------------------------------------
    def put(self, body: str) -> Path:
        """Spool one serialized event; returns its file. ``SpoolFull`` past the bound."""
        data, name = body.encode("utf-8"), _next_name()
        with self._usage_lock:
            used = self._usage
            if used + len(data) > self.max_bytes:
                raise SpoolFull(
                    f"lineage spool {self.directory} holds {used} bytes; one more event of "
                    f"{len(data)} bytes would exceed max_bytes={self.max_bytes}"
                )
            self._usage += len(data)
            self._inflight[name] = len(data)
        tmp = self.tmp_dir / name
        try:
            self._write(tmp, data, fsync=self.fsync)
            os.replace(tmp, self.directory / name)
        except BaseException:
            with self._usage_lock:
                self._usage -= len(data)
                del self._inflight[name]
            raise
        with self._usage_lock:
            del self._inflight[name]
            if self._recent is not None:
                self._recent[name] = len(data)
        return self.directory / name

    def remove(self, name: str) -> None:
        """Forget a pending event after the backend took it (2xx)."""
        path = self.directory / name
        try:
            size = os.lstat(path).st_size
            path.unlink()
        except FileNotFoundError:
            size = 0
        (self.directory / (name + STATE_SUFFIX)).unlink(missing_ok=True)
        with self._usage_lock:
            self._usage = max(0, self._usage - size)

    def refresh_usage(self) -> int:
        """Rescan the bytes of pending and quarantined entries; for the background sender.

        This process's writes that land while it scans, or are still in flight, are added
        unless the scan saw them: a concurrent ``put`` is counted once, never lost.
        """
        with self._usage_lock:
            self._recent = {}
        seen: set[str] = set()
        # tmp/ holds writes in flight, counted by their writers already.
        used = _folder_bytes(self.directory, seen) + _folder_bytes(self.rejected_dir)
        with self._usage_lock:
            ours = {**(self._recent or {}), **self._inflight}
            self._recent = None
            self._usage = used + sum(size for name, size in ours.items() if name not in seen)
            return self._usage

    # -- attempts ----------------------------------------------------------------------
    def read_state(self, name: str) -> EventState:
        try:
            raw = json.loads((self.directory / (name + STATE_SUFFIX)).read_text(encoding="utf-8"))
            return EventState(int(raw.get("attempts", 0)), float(raw.get("next_at", 0.0)),
                              str(raw.get("last_error", "")), raw.get("status"))
        except (OSError, ValueError, TypeError, AttributeError):  # none yet, or unreadable: start afresh
            return EventState()

    def write_state(self, name: str, state: EventState) -> None:
        """Persist the attempts of a pending event (no fsync: losing it costs a few retries)."""
        self._write_atomic(self.directory / (name + STATE_SUFFIX), json.dumps(attr.asdict(state)).encode(), fsync=False)

    # -- status ------------------------------------------------------------------------
    def status(self) -> SpoolStatus:
        names = self.pending_names()
        head = None
        if names:
            state = self.read_state(names[0])
            head = {"name": names[0], **attr.asdict(state)} if state.attempts else None
        quarantined = self.quarantined()
        return SpoolStatus(
            directory=str(self.directory),
            max_bytes=self.max_bytes,
            pending=FolderStatus(len(names), sum(_size(self.directory / n) for n in names),
                                 spooled_at(names[0]) if names else None),
            rejected=FolderStatus(len(quarantined), sum(q.bytes for q in quarantined),
                                  min((q.spooled_at for q in quarantined if q.spooled_at), default=None)),
            head=head,
            quarantined=quarantined,
        )

    # -- files -------------------------------------------------------------------------
    def _write_atomic(self, target: Path, data: bytes, *, fsync: bool) -> None:
        tmp = self.tmp_dir / f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        self._write(tmp, data, fsync=fsync)
        os.replace(tmp, target)

    @staticmethod
    def _write(path: Path, data: bytes, *, fsync: bool) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def lock(self, wait: float = 0.0) -> Iterator[bool]:
        """Hold the drain lock; yields False if it could not be had within ``wait`` seconds.

        Each call opens the lock file afresh: flock belongs to the open file description,
        so threads and forked children each compete for it on their own.
        """
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
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


def _tighten(folder: Path) -> None:
    """Make a folder we own private (0700), whatever an older version or the umask left."""
    try:
        if stat.S_IMODE(os.stat(folder).st_mode) != DIR_MODE:
            os.chmod(folder, DIR_MODE)
    except PermissionError:  # not ours: leave it, the owner decides
        pass


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symlink, not followed"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a device or other special file"


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _folder_bytes(folder: Path, seen: set[str] | None = None) -> int:
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False) and entry.name != LOCK:
                        total += entry.stat(follow_symlinks=False).st_size
                        if seen is not None:
                            seen.add(entry.name)
                except FileNotFoundError:  # drained or renamed while we looked
                    continue
    except FileNotFoundError:
        return 0
    return total
