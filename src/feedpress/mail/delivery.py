"""Delivering campaigns: every owed subscriber once, whatever fails on the way.

Messages are made as they are needed and handed to one worker thread per
connection, so memory stays flat however long the list is. Each outcome is
recorded in the ledger the moment it is known: "sent" right after the
server accepts the message. What each failure means (see
`transports.classify`):

- temporary (4xx, a connection lost before the message went): retried
  with a doubling backoff, then left pending for the next run;
- a refused mailbox (5.1.x, 5.2.1, a plain 550): bounced and suppressed,
  but only once the run has seen some address accepted. Until then the
  refusals are held back, and if the first `breaker` recipients of a run
  are all refused, the run stops and suppresses none of them: a relay
  that refuses everyone must never empty the list;
- a refusal of the run itself (policy, relay, authentication, spam,
  size): the run stops at once, suppresses nobody and leaves everyone
  not yet sent pending;
- ambiguous (the message went, and no reply came): recorded with its
  Message-ID and not retried in this run; the next run sends it once
  more, with the same Message-ID, and never a third time.

After `max_errors` failed attempts in a row, on any connection, the run
stops early: the relay is down, and burning through the list would only
make that worse. One `Sender` serves a whole run, campaign after
campaign, so its summary, its breaker and its count of errors are the
run's. Which campaigns and which subscribers is the planner's to decide,
never this module's.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from feedpress.errors import Problem
from feedpress.mail.ledger import HELD, Campaign, Ledger, Status
from feedpress.mail.messages import MessageMaker, Recipient
from feedpress.mail.select import STREAMS
from feedpress.mail.transports import (
    AmbiguousFailure,
    Connection,
    PermanentFailure,
    RefusedFailure,
    TemporaryFailure,
    Transport,
)

_DONE = object()
_SHOWN_REASONS = 8  # distinct reasons listed under a summary; the rest are counted


_LONGEST_BACKOFF = 3600.0  # seconds: however many retries, a wait doubles up to an hour


@dataclass(frozen=True)
class Job:
    recipient: Recipient
    maker: MessageMaker
    message_id: str | None = None  # None: a new random one
    last_try: bool = False  # ambiguous once already: never sent a third time
    held_before: bool = False  # refused while held back in an earlier run: not counted again


@dataclass(frozen=True)
class Policy:
    """How hard to try: retries after the first attempt, backoff, errors in a row, rate,
    and how many refusals at a run's start stop it without suppressing anyone."""

    retries: int = 3
    backoff: float = 2.0
    max_errors: int = 50
    rate: float = 0.0
    breaker: int = 20


@dataclass
class Summary:
    """What a run did, and why: each reason for pending, retried, bounced and ambiguous
    deliveries, with how many it stands for."""

    sent: int = 0
    skipped: int = 0
    retried: int = 0
    bounced: int = 0
    pending: int = 0
    ambiguous: int = 0
    unconfirmed: int = 0
    stopped: str | None = None
    problems: list[Problem] = field(default_factory=list)  # in the subscriber list
    notes: list[str] = field(default_factory=list)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)

    def line(self) -> str:
        text = (f"{self.sent} sent, {self.skipped} skipped, {self.retried} retried, "
                f"{self.bounced} bounced, {self.pending} pending")
        if self.ambiguous:
            text += f", {self.ambiguous} ambiguous"
        if self.unconfirmed:
            text += f", {self.unconfirmed} unconfirmed"
        return f"{text}; stopped early: {self.stopped}" if self.stopped else text

    def why(self) -> list[str]:
        """One line per distinct reason, the commonest first: "3 pending: ..."."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        lines = [f"{count} {what}: {reason}" for (what, reason), count in ranked]
        if len(lines) > _SHOWN_REASONS:
            rest = sum(count for _, count in ranked[_SHOWN_REASONS:])
            lines = [*lines[:_SHOWN_REASONS],
                     f"{rest} more, for {len(lines) - _SHOWN_REASONS} other reasons"]
        return lines

    @property
    def exit_code(self) -> int:
        """3 when a later run has work left: pending or ambiguous deliveries."""
        return 3 if self.pending or self.ambiguous else 0


@dataclass
class _Held:
    """A refusal held back until the run has seen an address accepted."""

    campaign: Campaign
    address: str
    reason: str
    before: bool  # held in an earlier run too


class Sender:
    """Sends jobs over a transport's connections and records every outcome in the ledger."""

    def __init__(self, transport: Transport, ledger: Ledger, sender: str, policy: Policy, *,
                 sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[str, str], None] | None = None) -> None:
        self.transport = transport
        self.ledger = ledger
        self.sender = sender
        self.policy = policy
        self.sleep = sleep
        self.progress = progress or (lambda address, outcome: None)
        self.summary = Summary()
        self._lock = threading.Lock()
        self._errors_in_a_row = 0
        self._accepted = False  # has any address been accepted in this run?
        self._held: list[_Held] = []
        self._tripped = False  # the breaker stopped the run: what it held stays held
        self._stop = threading.Event()
        self._next_slot = time.monotonic()
        self._crash: BaseException | None = None

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self, campaign: Campaign, jobs: Iterable[Job]) -> Summary:
        """Deliver every job of `campaign`; what could not be delivered is pending. Call
        `finish` for the run's summary once every campaign has run."""
        workers = max(1, self.transport.connections)
        todo: queue.Queue[object] = queue.Queue(maxsize=workers * 4)
        threads = [threading.Thread(target=self._work, args=(campaign, todo), daemon=True)
                   for _ in range(workers)]
        for thread in threads:
            thread.start()
        try:
            for job in jobs:
                if self._stop.is_set():
                    self._untried()
                else:
                    todo.put(job)
        except BaseException:  # making a job failed (a template), or Ctrl-C: stop the workers
            self._stop.set()  # before the ledger and the lock are let go, then re-raise
            raise
        finally:
            for _ in threads:
                todo.put(_DONE)
            for thread in threads:
                thread.join()
        if self._crash is not None:  # e.g. the ledger failed: say so, never carry on silently
            raise self._crash
        return self.summary

    def _work(self, campaign: Campaign, todo: queue.Queue[object]) -> None:
        connection: Connection | None = None
        try:
            while (item := todo.get()) is not _DONE:
                assert isinstance(item, Job)
                if self._stop.is_set():
                    self._untried()
                    continue
                connection = self._deliver(campaign, item, connection)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            with self._lock:
                self._crash = self._crash or exc
            self._stop.set()
            while todo.get() is not _DONE:  # drain, so the main thread is never blocked
                self._untried()
        finally:
            _close(connection)

    def _deliver(self, campaign: Campaign, job: Job,
                 connection: Connection | None) -> Connection | None:
        address = job.recipient.email
        message_id, message = job.maker.make(job.recipient, job.message_id)
        error = "stopped"
        for attempt in range(1 + self.policy.retries):
            if attempt and not self._stop.is_set():
                self._count("retried", error, address)
                self.sleep(min(self.policy.backoff * 2.0 ** min(attempt - 1, 30),
                               _LONGEST_BACKOFF))
            if self._stop.is_set():
                break
            try:
                connection = connection or self.transport.connect()
                self._wait_for_rate()
                connection.deliver(self.sender, address, message)
            except PermanentFailure as exc:
                self._refused(campaign, address, str(exc), attempt + 1, job.held_before)
                return connection
            except RefusedFailure as exc:
                error = str(exc)
                if exc.stage == "message" and self._has_accepted():
                    self._failed()  # one message; but a relay refusing each one must stop
                    break
                self._halt(f"{exc}; nobody was suppressed, and everyone not yet sent is "
                           "pending")
                break
            except AmbiguousFailure as exc:
                self._finish(campaign, address, "ambiguous", str(exc), message_id, attempt + 1,
                             "unconfirmed" if job.last_try else "ambiguous")
                self._failed()
                _close(connection)
                return None
            except TemporaryFailure as exc:
                error = str(exc)
                if not exc.now:  # the server answered, about this mailbox: a later run
                    self._answered()
                    break
                _close(connection)
                connection = None
                self._failed()
                continue
            self._finish(campaign, address, "sent", None, message_id, attempt + 1)
            self._answered(accepted=True)
            return connection
        self._finish(campaign, address, "pending", error, None, attempt + 1)
        return connection

    def _has_accepted(self) -> bool:
        with self._lock:
            return self._accepted

    def _refused(self, campaign: Campaign, address: str, reason: str, attempts: int,
                 before: bool) -> None:
        """A refused mailbox: bounced and suppressed, or held while nothing was accepted."""
        with self._lock:
            held = not self._accepted
            if held:  # recorded pending under the lock, before an acceptance can release it
                self.ledger.record(campaign, address, "pending", error=f"{HELD}: {reason}",
                                   attempts=attempts)
                self._held.append(_Held(campaign, address, reason, before))
                fresh = [h for h in self._held if not h.before]  # only these trip the breaker
                count, first = len(fresh), (fresh or self._held)[0].reason
                if count >= self.policy.breaker:
                    self._tripped = True
        if not held:
            self._bounce(campaign, address, reason, attempts)
            self._answered()
            return
        self.progress(address, "pending")
        if count >= self.policy.breaker:
            self._halt(f"the first {count} recipients were all refused (the first: {first}); "
                       "the server is probably refusing everyone, so nobody was suppressed, "
                       "and the rest is pending")

    def _bounce(self, campaign: Campaign, address: str, reason: str, attempts: int) -> None:
        with self._lock:
            self.ledger.suppress(address, STREAMS, "bounced")
        self._record(campaign, address, "bounced", reason, None, attempts)
        self._count("bounced", reason, address)

    def _answered(self, *, accepted: bool = False) -> None:
        """The server answered: the relay works. The first acceptance of the run releases
        the refusals held until then, as the bounces they are."""
        with self._lock:
            self._errors_in_a_row = 0
            release = accepted and not self._accepted and not self._tripped
            if release:
                self._accepted = True
                held, self._held = self._held, []
        if release:
            for refusal in held:
                self._bounce(refusal.campaign, refusal.address, refusal.reason, 0)

    def finish(self) -> Summary:
        """The run's summary, once every campaign has run: refusals still held (no address
        was accepted) are counted as the pending deliveries they are."""
        with self._lock:
            for refusal in self._held:
                self._tally("pending", f"{HELD}: {refusal.reason}", refusal.address)
            self._held = []
        return self.summary

    def _finish(self, campaign: Campaign, address: str, status: Status, reason: str | None,
                message_id: str | None, attempts: int, counted: str | None = None) -> None:
        """Record a delivery's outcome at once, count it (as `counted`, if not as its
        status), and tell the progress display."""
        self._record(campaign, address, status, reason, message_id, attempts)
        if counted == "unconfirmed":
            reason = f"ambiguous twice, so not sent again: {reason}"
        self._count(counted or status, reason, address)
        self.progress(address, status)

    def _record(self, campaign: Campaign, address: str, status: Status, reason: str | None,
                message_id: str | None, attempts: int) -> None:
        with self._lock:
            self.ledger.record(campaign, address, status, message_id=message_id, error=reason,
                               attempts=attempts)

    def _count(self, what: str, reason: str | None, address: str) -> None:
        with self._lock:
            self._tally(what, reason, address)

    def _tally(self, what: str, reason: str | None, address: str) -> None:
        """Under the lock: one more `what`, and its reason, with the address taken out."""
        setattr(self.summary, what, getattr(self.summary, what) + 1)
        if reason is not None and what != "sent":
            self.summary.reasons[what, _without(reason, address)] += 1

    def _untried(self) -> None:
        with self._lock:
            self.summary.pending += 1
            self.summary.reasons["pending", "not tried: the run stopped early"] += 1

    def _failed(self) -> None:
        with self._lock:
            self._errors_in_a_row += 1
            in_a_row = self._errors_in_a_row
        if in_a_row >= self.policy.max_errors:
            self._halt(f"{in_a_row} failures in a row: the mail server is down or refusing "
                       "us; the rest is pending")

    def _halt(self, reason: str) -> None:
        """Stop the run (the first reason given is the one reported)."""
        with self._lock:
            if not self._stop.is_set():
                self.summary.stopped = reason
                self._stop.set()

    def _wait_for_rate(self) -> None:
        if self.policy.rate <= 0:
            return
        with self._lock:
            slot = max(self._next_slot, time.monotonic())
            self._next_slot = slot + 1 / self.policy.rate
        delay = slot - time.monotonic()
        if delay > 0:
            self.sleep(delay)


def _close(connection: Connection | None) -> None:
    if connection is not None:
        connection.close()


def _without(reason: str, address: str) -> str:
    """`reason` with the recipient's address replaced, so that one reason counts many."""
    return re.sub(f"<?{re.escape(address)}>?", "<address>", reason, flags=re.IGNORECASE)
