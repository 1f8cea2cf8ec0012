"""Delivering a campaign: every eligible subscriber once, whatever fails on the way.

Messages are made as they are needed and handed to one worker thread per
connection, so memory stays flat however long the list is. Each outcome is
recorded in the ledger the moment it is known: "sent" right after the
server accepts the message. A temporary failure is retried with a doubling
backoff, then left pending for the next run; a permanent one (5xx) marks
the address bounced and suppresses it. After `max_errors` failed attempts
in a row, on any connection, the run stops early: the relay is down or has
blocked us, and burning through the list would only make that worse.

It is handed the jobs of one campaign: which campaign and which
subscribers is the planner's to decide, never this module's.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from feedpress.mail.ledger import Campaign, Ledger
from feedpress.mail.messages import MessageMaker, Recipient
from feedpress.mail.select import STREAMS
from feedpress.mail.transports import Connection, PermanentFailure, TemporaryFailure, Transport

_DONE = object()


@dataclass(frozen=True)
class Job:
    recipient: Recipient
    maker: MessageMaker


@dataclass(frozen=True)
class Policy:
    """How hard to try: retries after the first attempt, backoff, errors in a row, rate."""

    retries: int = 3
    backoff: float = 2.0
    max_errors: int = 50
    rate: float = 0.0


@dataclass
class Summary:
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    bounced: int = 0
    pending: int = 0
    stopped: str | None = None
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (f"{self.sent} sent, {self.skipped} skipped, {self.retried} retried, "
                f"{self.bounced} bounced, {self.pending} pending")
        return f"{text}; stopped early: {self.stopped}" if self.stopped else text

    @property
    def exit_code(self) -> int:
        return 3 if self.pending else 0


class Sender:
    """Sends jobs over a transport's connections and records every outcome in the ledger."""

    def __init__(self, transport: Transport, ledger: Ledger, campaign: Campaign, sender: str,
                 policy: Policy, *, sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[str, str], None] | None = None) -> None:
        self.transport = transport
        self.ledger = ledger
        self.campaign = campaign
        self.sender = sender
        self.policy = policy
        self.sleep = sleep
        self.progress = progress or (lambda address, outcome: None)
        self.summary = Summary()
        self._lock = threading.Lock()
        self._errors_in_a_row = 0
        self._stop = threading.Event()
        self._next_slot = time.monotonic()
        self._crash: BaseException | None = None

    def run(self, jobs: Iterable[Job]) -> Summary:
        """Deliver every job; what could not be delivered is counted as pending."""
        workers = max(1, self.transport.connections)
        todo: queue.Queue[object] = queue.Queue(maxsize=workers * 4)
        threads = [threading.Thread(target=self._work, args=(todo,), daemon=True)
                   for _ in range(workers)]
        for thread in threads:
            thread.start()
        for job in jobs:
            if self._stop.is_set():
                self._count("pending")
            else:
                todo.put(job)
        for _ in threads:
            todo.put(_DONE)
        for thread in threads:
            thread.join()
        if self._crash is not None:  # e.g. the ledger failed: say so, never carry on silently
            raise self._crash
        return self.summary

    def _work(self, todo: queue.Queue[object]) -> None:
        connection: Connection | None = None
        try:
            while (item := todo.get()) is not _DONE:
                assert isinstance(item, Job)
                if self._stop.is_set():
                    self._count("pending")
                    continue
                connection = self._deliver(item, connection)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            with self._lock:
                self._crash = self._crash or exc
            self._stop.set()
            while todo.get() is not _DONE:  # drain, so the main thread is never blocked
                self._count("pending")
        finally:
            if connection is not None:
                connection.close()

    def _deliver(self, job: Job, connection: Connection | None) -> Connection | None:
        address = job.recipient.email
        message_id, message = job.maker.make(job.recipient)
        error = ""
        for attempt in range(1 + self.policy.retries):
            if attempt:
                self._count("retried")
                self.sleep(self.policy.backoff * 2 ** (attempt - 1))
            if self._stop.is_set():
                break
            try:
                connection = connection or self.transport.connect()
                self._wait_for_rate()
                connection.deliver(self.sender, address, message)
            except PermanentFailure as exc:
                self._record(address, "bounced", None, str(exc), attempt + 1)
                self._suppress(address)
                self._count("bounced")
                self._succeeded()  # the server answered: the relay is working
                return connection
            except TemporaryFailure as exc:
                error = str(exc)
                if connection is not None:
                    connection.close()
                connection = None
                self._failed()
                continue
            self._record(address, "sent", message_id, None, attempt + 1)
            self._count("sent")
            self._succeeded()
            return connection
        self._record(address, "pending", None, error or "stopped", 1 + self.policy.retries)
        self._count("pending")
        return connection

    def _suppress(self, address: str) -> None:
        with self._lock:
            self.ledger.suppress(address, STREAMS, "bounced")

    def _record(self, address: str, status: str, message_id: str | None, error: str | None,
                attempts: int) -> None:
        with self._lock:
            self.ledger.record(self.campaign, address, status,  # type: ignore[arg-type]
                              message_id=message_id, error=error, attempts=attempts)
        self.progress(address, status)

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self.summary, what, getattr(self.summary, what) + 1)

    def _succeeded(self) -> None:
        with self._lock:
            self._errors_in_a_row = 0

    def _failed(self) -> None:
        with self._lock:
            self._errors_in_a_row += 1
            if self._errors_in_a_row >= self.policy.max_errors and not self._stop.is_set():
                self.summary.stopped = (f"{self._errors_in_a_row} failures in a row: the mail "
                                        "server is down or refusing us; the rest is pending")
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

