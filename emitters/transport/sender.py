"""Delivery of the spool: the drain (oldest first, never stuck) and the background sender.

Contract of ``drain(...)`` (called with the spool's lock held, by the sender thread and
by ``replay``):

- Events go oldest first. A foreign or unreadable entry is quarantined at once. Answers
  are classified by ``delivery`` (see its table): SENT deletes the event; REFUSED
  quarantines it with the backend's answer; UNREACHABLE and SETUP hold the queue and
  charge no event; BUSY and RETRY charge the event one attempt (persisted beside it),
  schedule its next try (``Retry-After`` if given, capped at ``retry_after_max``, else
  exponential backoff with jitter) and stop, so order is kept.
- **The attempt budget, with proof.** An event charged ``max_attempts`` times is
  *exhausted*. It is not sent again while a later event can be tried instead: the drain
  skips it and sends the next one as a probe. If the probe is accepted, the backend
  works, so each exhausted event before it gets one last try; if that fails with RETRY
  (not BUSY, UNREACHABLE or SETUP) it is quarantined with its reason and the queue moves
  on. If the probe fails too, the trouble is the backend's, not the event's: nothing is
  quarantined and the queue waits. So a poisoned event costs its budget once and then
  never holds the rest, while an outage, however long, quarantines nothing. The price:
  the one probe that proves the backend healthy may arrive before the exhausted events
  that precede it (if they then succeed). An exhausted event with nothing after it is
  retried at the backoff cap, never quarantined without proof.
- ``force`` (replay) ignores scheduled times; attempts are still charged.

Contract of ``Sender``: one daemon thread per transport (normally one per spool per
process), started on the first emit and made again in a forked child. It sleeps until
woken by an emit, until the next scheduled try, or ``poll_interval`` (to pick up events
other processes left), then drains under the spool lock; if another process holds the
lock it tries again shortly. UNREACHABLE holds the queue with backoff (logged as a
warning once per outage); SETUP holds it with backoff and is logged as an error, and
after ``setup_attempts`` consecutive SETUP answers the sender stops trying in this
process (an error says so; ``crossline lineage replay`` or a restart tries again): a
wrong token or URL is never a reason to quarantine events. ``flush(deadline)`` asks it
to deliver what it can until ``deadline`` and returns whether the spool is empty.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import attr

from crossline.emitters.transport.delivery import Answer, Verdict, backoff
from crossline.emitters.transport.spool import ForeignEntry, Spool
from crossline.emitters.transport.status import DeliveryStats, DrainReport, EventState
from crossline.redact import RedactingFilter

if TYPE_CHECKING:
    from crossline.emitters.transport.config import DurableHttpConfig

log = logging.getLogger(__name__)
log.addFilter(RedactingFilter())
LOCK_RETRY = 0.25  # seconds before trying the drain lock again when another process holds it
USAGE_REFRESH = 5.0  # seconds between rescans of the spool's bytes (the writers' bound)


@attr.define
class Policy:
    max_attempts: int
    backoff_base: float
    backoff_max: float
    retry_after_max: float

    @classmethod
    def of(cls, config: DurableHttpConfig) -> Policy:
        return cls(config.max_attempts, config.backoff_base, config.backoff_max, config.retry_after_max)

    def delay(self, answer: Answer, attempts: int) -> float:
        if answer.retry_after is not None:
            return min(answer.retry_after, self.retry_after_max)
        return backoff(attempts, self.backoff_base, self.backoff_max)


def drain(spool: Spool, post: Callable[[str], Answer], policy: Policy, stats: DeliveryStats, *,
          force: bool = False, stop: Callable[[], bool] = lambda: False) -> DrainReport:
    """Deliver pending events until none is left or delivery must wait; see the module docstring."""
    report = DrainReport()
    while True:
        names = spool.pending_names()
        if not names:
            return report
        exhausted: list[tuple[str, EventState]] = []
        for index, name in enumerate(names):
            if stop():
                report.held = report.held or "stopping"
                return report
            state = spool.read_state(name)
            if state.attempts >= policy.max_attempts and index < len(names) - 1:
                exhausted.append((name, state))  # probe with a later event first
                continue
            if not force and state.next_at > time.time():
                report.held, report.next_due = "retry", state.next_at
                return report
            answer = _try(spool, name, post, report, stats)
            if answer is None:  # vanished or quarantined as foreign
                continue
            if answer.verdict is Verdict.SENT:
                for old, old_state in exhausted:
                    if not _last_chance(spool, old, old_state, post, policy, report, stats):
                        return report
                exhausted = []
                continue
            if answer.verdict is Verdict.REFUSED:
                _quarantine(spool, name, f"the backend refused it: {answer.detail}", answer, state.attempts + 1,
                            report, stats)
                continue
            report.error = answer.detail
            if not answer.verdict.charged:  # UNREACHABLE, SETUP: the backend's fault; hold
                report.held = answer.verdict.value
                return report
            _charge(spool, name, state, answer, policy, report, stats)
            return report


def _try(spool: Spool, name: str, post: Callable[[str], Answer], report: DrainReport,
         stats: DeliveryStats) -> Answer | None:
    try:
        body = spool.load(name)
    except FileNotFoundError:
        return None
    except ForeignEntry as err:
        _quarantine(spool, name, f"not a spooled event: {err}", None, 0, report, stats)
        return None
    answer = post(body)
    if answer.verdict is Verdict.SENT:
        spool.remove(name)
        report.sent += 1
        stats.sent += 1
    return answer


def _last_chance(spool: Spool, name: str, state: EventState, post: Callable[[str], Answer], policy: Policy,
                 report: DrainReport, stats: DeliveryStats) -> bool:
    """One more try of an exhausted event now that the backend took a later one; False: stop."""
    answer = _try(spool, name, post, report, stats)
    if answer is None or answer.verdict is Verdict.SENT:
        return True
    if answer.verdict in (Verdict.REFUSED, Verdict.RETRY):
        why = "the backend refused it" if answer.verdict is Verdict.REFUSED else (
            f"{state.attempts + 1} attempts failed while the backend accepted later events")
        _quarantine(spool, name, f"{why}: {answer.detail}", answer, state.attempts + 1, report, stats)
        return True
    report.error = answer.detail
    report.held = answer.verdict.value
    if answer.verdict.charged:
        _charge(spool, name, state, answer, policy, report, stats)
    return False


def _charge(spool: Spool, name: str, state: EventState, answer: Answer, policy: Policy,
            report: DrainReport, stats: DeliveryStats) -> None:
    state.attempts += 1
    state.last_error, state.status = answer.detail, answer.status
    state.next_at = time.time() + policy.delay(answer, state.attempts)
    spool.write_state(name, state)
    stats.retried += 1
    report.held, report.next_due = answer.verdict.value, state.next_at
    level = logging.WARNING if state.attempts in (1, policy.max_attempts) else logging.DEBUG
    log.log(level, "crossline lineage: event %s not delivered (attempt %d of %d before quarantine): %s",
            name, state.attempts, policy.max_attempts, answer.detail)


def _quarantine(spool: Spool, name: str, reason: str, answer: Answer | None, attempts: int,
                report: DrainReport, stats: DeliveryStats) -> None:
    target = spool.quarantine(name, reason, status=answer.status if answer else None,
                              answer=answer.body if answer else "", attempts=attempts)
    report.rejected += 1
    stats.rejected += 1
    log.error("crossline lineage: quarantined %s to %s: %s. See `crossline lineage status`; "
              "`crossline lineage requeue` sends it again.", name, target.parent, reason)


class Sender(threading.Thread):
    """The background sender of one transport; see the module docstring."""

    def __init__(self, spool: Spool, post: Callable[[str], Answer], policy: Policy, stats: DeliveryStats,
                 config: DurableHttpConfig, display_url: str) -> None:
        super().__init__(name=f"crossline-lineage-sender[{spool.directory.name}]", daemon=True)
        self.spool, self.post, self.policy, self.stats = spool, post, policy, stats
        self.config, self.display_url = config, display_url
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._stopping = False
        self._flush_deadline: float | None = None
        self._idle = False  # the last cycle left nothing it could deliver before the flush deadline
        self._hold_until = 0.0  # monotonic: UNREACHABLE/SETUP backoff
        self._next_due = 0.0  # monotonic: the head's next scheduled try
        self._down_streak = 0
        self._setup_streak = 0
        self._parked = False
        self._last_refresh = 0.0

    def wake(self) -> None:
        """A new event is spooled. While the queue waits (outage, backoff) there is nothing to do."""
        now = time.monotonic()
        if self._flush_deadline is None and (self._parked or now < self._hold_until or now < self._next_due):
            return
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def flush(self, deadline: float) -> bool:
        """Deliver what can be delivered until ``deadline`` (monotonic); True if the spool is empty."""
        self.request_flush(deadline)
        return self.wait_flushed(deadline)

    def request_flush(self, deadline: float) -> None:
        with self._cond:
            self._flush_deadline, self._idle = deadline, False
        self._wake.set()

    def wait_flushed(self, deadline: float) -> bool:
        with self._cond:
            while not self._idle and self.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05))
        try:
            return not self.spool.has_pending()
        except OSError:
            return False

    def run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._sleep_for())
            self._wake.clear()
            if self._stopping:
                break
            try:
                self._cycle()
            except Exception:  # the sender must outlive any bug: log it and go on  # noqa: BLE001
                self.stats.errors += 1
                log.exception("crossline lineage: unexpected error in the background sender for %s",
                              self.spool.directory)
                self._hold_until = time.monotonic() + self.config.backoff_max
                self._set_idle()

    def _sleep_for(self) -> float:
        now = time.monotonic()
        wake_at = now + self.config.poll_interval
        for moment in (self._hold_until, self._next_due):
            if moment > now:
                wake_at = min(wake_at, moment)
        return max(0.0, wake_at - now)

    def _cycle(self) -> None:
        now = time.monotonic()
        if now - self._last_refresh >= USAGE_REFRESH:
            self.spool.refresh_usage()
            self._last_refresh = now
        if self._parked or now < self._hold_until or now < self._next_due:
            self._set_idle_if_past(min(t for t in (self._hold_until, self._next_due, float("inf")) if t > now)
                                   if not self._parked else float("inf"))
            return
        with self.spool.lock(0.0) as held:
            if not held:
                self._next_due = time.monotonic() + LOCK_RETRY
                return
            report = drain(self.spool, self.post, self.policy, self.stats, stop=lambda: self._stopping)
        self._after(report)

    def _after(self, report: DrainReport) -> None:
        now = time.monotonic()
        self._next_due = 0.0
        if report.held is None or report.held in ("retry", "busy"):
            if self._down_streak or self._setup_streak:
                log.warning("crossline lineage: %s takes events again", self.display_url)
            self._down_streak = self._setup_streak = 0
        if report.held == Verdict.UNREACHABLE.value:
            self._down_streak += 1
            self._hold_until = now + backoff(self._down_streak, self.config.backoff_base, self.config.backoff_max)
            if self._down_streak == 1:
                log.warning("crossline lineage: %s; events stay spooled in %s and are sent when it answers",
                            report.error, self.spool.directory)
        elif report.held == Verdict.SETUP.value:
            self._setup_streak += 1
            self._hold_until = now + backoff(self._setup_streak, self.config.backoff_base, self.config.backoff_max)
            if self._setup_streak >= self.config.setup_attempts:
                self._parked = True
                log.error("crossline lineage: %s, %d times in a row. The URL, credentials or TLS settings "
                          "are wrong; this process stops sending (no event is quarantined for it). Fix the "
                          "configuration, then run `crossline lineage replay`.", report.error, self._setup_streak)
            elif self._setup_streak == 1:
                log.error("crossline lineage: %s. The URL, credentials or TLS settings look wrong; events stay "
                          "spooled in %s and are retried, none is quarantined for this.",
                          report.error, self.spool.directory)
        elif report.next_due is not None:
            self._next_due = now + max(0.0, report.next_due - time.time())
        self._set_idle_if_past(max(self._hold_until, self._next_due) if report.held else now)

    def _set_idle_if_past(self, next_try: float) -> None:
        """Tell a flush waiting for us that nothing more will happen before its deadline."""
        with self._cond:
            if self._flush_deadline is not None and (next_try >= self._flush_deadline or next_try <= time.monotonic()):
                self._idle, self._flush_deadline = True, None
                self._cond.notify_all()

    def _set_idle(self) -> None:
        with self._cond:
            self._idle, self._flush_deadline = True, None
            self._cond.notify_all()
