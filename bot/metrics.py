"""Prometheus metrics of one ``deskbot run`` process (``/metrics``).

Each :class:`Metrics` has its own registry (never prometheus-client's global one), so
tests and several desks in one process do not share counters. Event and send counters
move as things happen (the engine's ``on_handled`` hook, the outbox worker's
``on_send``); ticket and outbox numbers are read from the database when scraped, so
they are right even after a restart and whichever process changed them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from handlers.events import Incoming, Outcome
from store import health
from store.db import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SEND_OUTCOMES = ("sent", "edited", "retry_after", "blocked", "error")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def event_kind(inc: Incoming, outcome: Outcome) -> str:
    """A small fixed vocabulary for the ``kind`` label (never user text)."""
    if outcome.duplicate:
        return "duplicate"
    if inc.signal:
        return "signal"
    if inc.is_button:
        return "button"
    if inc.edit_of:
        return "edit"
    if inc.is_command:
        return "command"
    if inc.attachments:
        return "attachment"
    return "text"


class _DatabaseCollector(Collector):
    """Exposes the numbers :meth:`Metrics.refresh` last read from the database."""

    def __init__(self) -> None:
        self.tickets = health.TicketCounts()
        self.backlog = health.OutboxBacklog(pending=0, oldest_created_at=None)
        self.now: datetime | None = None

    def collect(self) -> Iterator[Metric]:
        opened = CounterMetricFamily("deskbot_tickets_opened", "Tickets filed, per team", labels=["team"])
        resolved = CounterMetricFamily("deskbot_tickets_resolved", "Ticket resolutions, per team", labels=["team"])
        open_now = GaugeMetricFamily("deskbot_tickets_open", "Tickets new, claimed or waiting now", labels=["team"])
        for family, values in ((opened, self.tickets.opened), (resolved, self.tickets.resolved),
                               (open_now, self.tickets.open_now)):
            for team, n in sorted(values.items()):
                family.add_metric([team], n)
        yield from (opened, resolved, open_now)
        yield GaugeMetricFamily("deskbot_outbox_backlog", "Outbox rows waiting to be delivered",
                                value=self.backlog.pending)
        age = 0.0
        if self.backlog.oldest_created_at is not None and self.now is not None:
            age = max(0.0, (self.now - self.backlog.oldest_created_at).total_seconds())
        yield GaugeMetricFamily("deskbot_outbox_oldest_age_seconds",
                                "Age of the oldest undelivered outbox row (0 when none)", value=age)

    def describe(self) -> Iterable[Metric]:
        return []


class Metrics:
    """The counters of one process and the database snapshot taken at scrape time."""

    def __init__(self, platforms: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter("deskbot_events_handled", "Events handled by the engine",
                              ["platform", "kind"], registry=self.registry)
        self.latency = Histogram("deskbot_event_handling_seconds", "Time to handle one event (one transaction)",
                                 ["platform"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.sends = Counter("deskbot_sends", "Delivery attempts by platform and outcome",
                             ["platform", "outcome"], registry=self.registry)
        self.rate_limited = Counter("deskbot_rate_limited", "Sends the platform refused with 429 (retry_after)",
                                    ["platform"], registry=self.registry)
        self.runner = Gauge("deskbot_runner", "1 while this process is the runner (outbox worker and "
                            "scheduler), 0 otherwise", registry=self.registry)
        self._db = _DatabaseCollector()
        self.registry.register(self._db)
        for platform in platforms:  # zeros are visible before the first event
            self.latency.labels(platform)
            self.rate_limited.labels(platform)
            for outcome in SEND_OUTCOMES:
                self.sends.labels(platform, outcome)

    def record_event(self, inc: Incoming, outcome: Outcome, seconds: float) -> None:
        """The engine's ``on_handled`` hook."""
        self.events.labels(inc.platform, event_kind(inc, outcome)).inc()
        self.latency.labels(inc.platform).observe(seconds)

    def record_send(self, platform: str, outcome: str) -> None:
        """The outbox worker's ``on_send`` hook: "sent", "edited", "retry_after", "blocked", "error"."""
        if outcome not in SEND_OUTCOMES:
            outcome = "error"
        self.sends.labels(platform, outcome).inc()
        if outcome == "retry_after":
            self.rate_limited.labels(platform).inc()

    def update(self, tickets: health.TicketCounts, backlog: health.OutboxBacklog, now: datetime) -> None:
        self._db.tickets, self._db.backlog, self._db.now = tickets, backlog, now

    async def refresh(self, db: Database, now: datetime) -> None:
        """Read ticket counts and the outbox backlog (call before :meth:`render`)."""
        async with db.transaction() as s:
            tickets = await health.ticket_counts(s)
            backlog = await health.outbox_backlog(s)
        self.update(tickets, backlog, now)

    def render(self) -> bytes:
        return generate_latest(self.registry)
