"""The spool's quarantine: ``rejected/`` and its reasons, and the way back to the queue.

Contract (a part of ``Spool``, kept in its own module): ``quarantine(name, reason)``
moves any pending entry, file or not, into ``rejected/`` (never overwriting: a clash
gets a new name) and writes ``<stem>.response.json`` beside it with ``reason``, the
backend's ``status`` and ``answer`` (redacted by the caller), ``attempts`` and
``rejected_at``; the entry's attempt state goes. ``reject_new`` keeps an event that was
never spooled. ``quarantined()`` lists entries with their reasons, oldest spooled first;
a missing or unreadable reason file is reported as such, never raised. ``requeue(names)``
moves entries back under their own names (they sort by when they were first spooled)
with a fresh attempt budget, and returns ``(moved, unknown)``. All files are 0600.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossline.emitters.transport.status import Quarantined, spooled_at
from crossline.times import now, stamp

if TYPE_CHECKING:
    import threading

SUFFIX = ".json"
STATE_SUFFIX = ".state"
RESPONSE_SUFFIX = ".response.json"


class Quarantine:
    directory: Path
    rejected_dir: Path
    fsync: bool
    _usage: int
    _usage_lock: threading.Lock

    def _new_name(self) -> str:
        raise NotImplementedError

    def _write_atomic(self, target: Path, data: bytes, *, fsync: bool) -> None:
        raise NotImplementedError

    def quarantine(self, name: str, reason: str, *, status: int | None = None, answer: str = "",
                   attempts: int = 0) -> Path:
        """Move a pending entry (whatever it is) into ``rejected/`` with why; returns where it went."""
        target = _free_name(self.rejected_dir, name)
        self._write_reason(target.name, reason, status, answer, attempts)
        source = self.directory / name
        try:
            size = os.lstat(source).st_size
            os.replace(source, target)
        except FileNotFoundError:
            size = 0
        (self.directory / (name + STATE_SUFFIX)).unlink(missing_ok=True)
        with self._usage_lock:
            self._usage = max(0, self._usage - size)
        return target

    def reject_new(self, body: str, reason: str) -> Path:
        """Keep an event that was never spooled (it cannot be sent as it is) in ``rejected/``."""
        name = self._new_name()
        self._write_reason(name, reason, None, "", 0)
        self._write_atomic(self.rejected_dir / name, body.encode("utf-8"), fsync=self.fsync)
        return self.rejected_dir / name

    def _write_reason(self, name: str, reason: str, status: int | None, answer: str, attempts: int) -> None:
        doc = {"reason": reason, "status": status, "answer": answer, "attempts": attempts,
               "rejected_at": stamp(now())}
        self._write_atomic(self.rejected_dir / _reason_name(name), json.dumps(doc, indent=2).encode(), fsync=self.fsync)

    def quarantined(self) -> list[Quarantined]:
        """Quarantined entries, oldest spooled first, each with its reason."""
        out = []
        for name in self._rejected_names():
            doc: dict[str, Any] = {}
            try:
                doc = json.loads((self.rejected_dir / _reason_name(name)).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                doc = {"reason": "no reason recorded"}
            if not isinstance(doc, dict):
                doc = {"reason": "unreadable reason file"}
            try:
                size = os.lstat(self.rejected_dir / name).st_size
            except OSError:
                size = 0
            out.append(Quarantined(
                name=name, reason=str(doc.get("reason") or ""), status=doc.get("status"),
                answer=str(doc.get("answer") or ""), attempts=int(doc.get("attempts") or 0),
                rejected_at=doc.get("rejected_at"), spooled_at=spooled_at(name), bytes=size,
            ))
        return out

    def requeue(self, names: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
        """Move quarantined entries back to the queue (all if ``names`` is None); (moved, unknown)."""
        known = set(self._rejected_names())
        wanted = sorted(known) if names is None else list(dict.fromkeys(names))
        moved, unknown = [], []
        for name in wanted:
            if name not in known or "/" in name:
                unknown.append(name)
                continue
            target = _free_name(self.directory, name)
            os.replace(self.rejected_dir / name, target)
            (self.rejected_dir / _reason_name(name)).unlink(missing_ok=True)
            (self.directory / (target.name + STATE_SUFFIX)).unlink(missing_ok=True)
            moved.append(target.name)
        return moved, unknown

    def _rejected_names(self) -> list[str]:
        try:
            names = {e.name for e in os.scandir(self.rejected_dir)}
        except FileNotFoundError:
            return []
        # "<stem>.response.json" is a reason file when its entry "<stem>.json" is there too.
        return sorted(
            n for n in names
            if n.endswith(SUFFIX) and not (n.endswith(RESPONSE_SUFFIX) and n[: -len(RESPONSE_SUFFIX)] + SUFFIX in names)
        )


def _reason_name(name: str) -> str:
    return (name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name) + RESPONSE_SUFFIX


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    if not os.path.lexists(target):
        return target
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    return folder / f"{stem}.{time.time_ns()}{SUFFIX}"
