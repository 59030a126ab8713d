"""A collection's warnings as records: which source, where, why, and what kind of problem.

Contract: ``CollectWarning(source, where, why, kind)`` is one warning. ``where`` names the
place in the source (``{file}:{line}``, an S3 object and line, an API call such as
``GET /api/v1/events/lineage?after=...&offset=40`` or ``DescribeModelPackage(...)``);
``why`` says what was wrong and what was done about it; ``kind`` is one of ``KINDS``.
Every text is made safe to print and to store when the warning is made: NUL characters
and lone surrogates (what a hostile input quotes back) are escaped and each text is
clipped, so a warning about a bad value never carries the bad value itself.
``warning(item, source)`` turns what a source put in ``Batch.warnings`` (a
``CollectWarning``, or plain text from a source written before these records) into one.
``str(w)`` is ``where: why``; ``as_dict`` is its JSON form. The collector prints these,
``--json`` lists them, and the store keeps them as each source's collection log
(``Graph.log``, which gives ``Logged`` entries).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple

KINDS = {
    "unreadable": "not JSON, not UTF-8, too large or too deep to read",
    "hostile": "a value no store keeps alike: NUL, a lone surrogate, NaN or Infinity, a huge string or number, a key twice",
    "invalid-event": "not an OpenLineage RunEvent (the official schema): the event is rejected",
    "invalid-part": "a facet or dataset invalid against its schema: dropped, the rest of the event kept",
    "conflict": "contradicts what is already known (a run id reused with another job): rejected",
    "unusable": "read, but not usable as a record (a field missing or malformed): skipped",
    "unavailable": "a call failed or an entity could not be read: retried on the next collection",
    "note": "worth knowing, nothing was lost (e.g. a file rewritten and read again)",
}
"""Each kind of warning, and what it means for the data."""
_CLIP = {"source": 200, "where": 1000, "why": 2000}


def clean(text: str, limit: int = 2000) -> str:
    """``text`` safe to print and store: NUL and lone surrogates escaped, at most ``limit`` characters."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


@dataclass(frozen=True)
class CollectWarning:
    source: str
    where: str
    why: str
    kind: str = "unusable"

    def __post_init__(self) -> None:
        for name, limit in _CLIP.items():
            object.__setattr__(self, name, clean(str(getattr(self, name)), limit))
        if self.kind not in KINDS:
            object.__setattr__(self, "kind", "unusable")

    def __str__(self) -> str:
        return f"{self.where}: {self.why}" if self.where else self.why

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Logged(NamedTuple):
    """A warning as the store keeps it: its place in the log, when, and the watermark its batch reached."""

    seq: int
    at: datetime
    watermark: str | None
    warning: CollectWarning

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "watermark": self.watermark, **self.warning.as_dict()}


def warning(item: CollectWarning | str, source: str) -> CollectWarning:
    """A ``Batch.warnings`` item as a record of ``source`` (plain text: where unknown)."""
    if isinstance(item, CollectWarning):
        return item
    return CollectWarning(source, "", str(item), "unusable")


__all__ = ["KINDS", "CollectWarning", "Logged", "clean", "warning"]
