"""SQLModel tables: the whole persistent state of a desk.

Only portable column types are used (no PostgreSQL-only types), so SQLite and
PostgreSQL run the same code and the same migrations. Times are stored as naive
UTC and returned as aware UTC (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database, aware UTC in Python."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


class Status(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    WAITING = "waiting"  # waiting on the requester
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (Status.NEW, Status.CLAIMED, Status.WAITING)


class MessageKind(StrEnum):
    REQUESTER = "requester"
    AGENT = "agent"
    NOTE = "note"
    SYSTEM = "system"
    EDIT = "edit"  # the author changed an earlier message (``edit_of``); the original stays


class Person(SQLModel, table=True):
    """Someone who talks to the desk; ``key`` is the config name for known people."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    locale: str | None = Field(default=None, max_length=8)
    away: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Identity(SQLModel, table=True):
    """A person's account on one platform; the last one used receives their messages."""

    __table_args__ = (
        sa.UniqueConstraint("platform", "platform_user_id"),
        # The few who blocked the bot, for the outbox's per-batch check (outbox.unreachable_chats).
        sa.Index("ix_identity_unreachable", "platform", "dm_chat_id", "platform_user_id",
                 sqlite_where=sa.text("unreachable_at IS NOT NULL"),
                 postgresql_where=sa.text("unreachable_at IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    platform: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=64)
    dm_chat_id: str | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=8)
    timezone: str | None = Field(default=None, max_length=64)  # IANA zone from the platform profile
    last_seen_at: datetime | None = _ts()
    unreachable_at: datetime | None = _ts()  # the bot was blocked here; cleared when they write again


class Membership(SQLModel, table=True):
    """An agent's tier in a team, or a lead of a team (synced from config at start)."""

    __table_args__ = (sa.UniqueConstraint("person_id", "team", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    team: str = Field(max_length=64)
    role: str = Field(max_length=16)  # agent | lead
    tier: str | None = Field(default=None, max_length=4)


class Ticket(SQLModel, table=True):
    """A request. ``id`` is the ticket number people see (#123)."""

    # The digest's and /stats' range scans per team (migration 0006; bench/digest.py).
    __table_args__ = (
        sa.Index("ix_ticket_team_created_at", "team", "created_at"),
        sa.Index("ix_ticket_team_resolved_at", "team", "resolved_at"),
        sa.Index("ix_ticket_team_first_response_at", "team", "first_response_at", "created_at"),
        sa.Index("ix_ticket_team_status_created_at", "team", "status", "created_at"),
        sa.Index("ix_ticket_requester_category_created_at", "requester_id", "category", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team: str = Field(max_length=64, index=True)
    category: str = Field(max_length=64)
    priority: str = Field(max_length=32)
    status: str = Field(default=Status.NEW, max_length=16, index=True)
    tier: str = Field(default="L1", max_length=4)
    requester_id: int = Field(foreign_key="person.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    subject: str = Field(max_length=200)
    platform: str = Field(max_length=16)
    kb_query: str | None = Field(default=None, max_length=4000)
    version: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    first_response_due: datetime | None = _ts()
    resolution_due: datetime | None = _ts()
    first_response_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    csat: int | None = None
    csat_comment: str | None = Field(default=None, sa_type=sa.Text)
    resolution_note: str | None = Field(default=None, sa_type=sa.Text)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # request-form answers
    # The SLA clock is paused while the ticket waits on the requester: since when (None:
    # running), and the business minutes paused so far (excluded from resolution time).
    sla_paused_at: datetime | None = _ts()
    sla_paused_minutes: int = 0


class TicketMessage(SQLModel, table=True):
    """The ticket's conversation history (requester, agent, internal note, system)."""

    __tablename__ = "ticket_message"
    __table_args__ = (sa.Index("ix_ticket_message_platform_message", "platform", "chat_id", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=16)
    author_id: int | None = Field(default=None, foreign_key="person.id")
    text: str = Field(sa_type=sa.Text)
    platform: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Files that came with the message, as references (handlers.events.Attachment.to_dict()).
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # Where the message was written: the platform's message id in that chat (for edits).
    chat_id: str | None = Field(default=None, max_length=64)
    message_id: str | None = Field(default=None, max_length=64)
    edit_of: int | None = None  # kind "edit": the ticket_message id of the message edited


class TicketEvent(SQLModel, table=True):
    """Audit trail: who did what to which ticket, from which value to which."""

    __tablename__ = "ticket_event"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)
    from_value: str | None = Field(default=None, max_length=200)
    to_value: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketPost(SQLModel, table=True):
    """Where a ticket's card or thread lives on a platform (for edits and threading)."""

    __tablename__ = "ticket_post"
    __table_args__ = (sa.UniqueConstraint("ticket_id", "platform", "chat_id", "card"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    card: str = Field(max_length=32)  # queue | requester
    message_id: str = Field(max_length=64)
    thread_id: str | None = Field(default=None, max_length=64)


class Conversation(SQLModel, table=True):
    """Flow state of one user in one chat (requester wizard, agent reply mode)."""

    __table_args__ = (sa.UniqueConstraint("platform", "chat_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    state: str = Field(default="idle", max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InboxEvent(SQLModel, table=True):
    """Event keys already handled; the unique key makes redelivery a no-op."""

    __tablename__ = "inbox_event"
    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=200, unique=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after max attempts
    BLOCKED = "blocked"  # the recipient blocked the bot / chat is gone
    SUPERSEDED = "superseded"  # a newer row replaces it before it went out (a whole screen: an App Home)


class OutboxMessage(SQLModel, table=True):
    """A message to deliver, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"
    # The pending rows of a ticket's card, for superseding a stale edit (outbox.supersede_cards).
    __table_args__ = (
        sa.Index("ix_outbox_pending_card", "ticket_id", "card",
                 sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16, index=True)
    chat_id: str = Field(max_length=64)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    card: str | None = Field(default=None, max_length=32)  # edit-in-place key, e.g. "queue"
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=OutboxStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = _ts()


class KbFeedback(SQLModel, table=True):
    """What happened to KB suggestions: shown, opened, solved, not_solved, gap."""

    __tablename__ = "kb_feedback"
    __table_args__ = (sa.Index("ix_kb_feedback_outcome_created_at", "outcome", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    slug: str | None = Field(default=None, max_length=200, index=True)
    query: str = Field(max_length=4000)
    outcome: str = Field(max_length=16)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LinkCode(SQLModel, table=True):
    """A one-time code joining two accounts (``/link``): one live code per person, kept
    only as a digest, valid until ``expires_at`` and deleted when used or replaced."""

    __tablename__ = "link_code"
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True)
    identity_id: int = Field(foreign_key="identity.id")  # the account that asked (told when used)
    platform: str = Field(max_length=16)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class LinkAttempt(SQLModel, table=True):
    """A ``/link CODE`` that failed (wrong or expired code): counted to stop guessing."""

    __tablename__ = "link_attempt"
    __table_args__ = (sa.Index("ix_link_attempt_person_at", "person_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    at: datetime = Field(sa_type=UTCDateTime)


class ScheduledAction(SQLModel, table=True):
    """An action the scheduler took (a ping, an escalation, a reminder, a digest…).

    ``key`` names the action and its occasion (``remind:12:1``, ``digest:it:2026-12-01``)
    and is unique: the row is written in the same transaction as the action's effects, so a
    restart, a second sweep or a second process can never take the same action twice."""

    __tablename__ = "scheduled_action"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32, index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    team: str | None = Field(default=None, max_length=64)
    due_at: datetime | None = _ts()  # when the action became due (for catch-up reports)
    done_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class RunnerLease(SQLModel, table=True):
    """Which ``deskbot run`` process is the runner (SQLite; PostgreSQL uses an advisory
    lock). The holder renews ``expires_at`` on a heartbeat; an expired lease may be taken."""

    __tablename__ = "runner_lease"
    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=200)
    acquired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class KbLearned(SQLModel, table=True):
    """A resolved ticket's first message kept as an extra example question of the KB article
    an agent said answered it ("Answered by: …" on the resolved card). One row per article
    and ticket: a double tap or a redelivered press adds nothing."""

    __tablename__ = "kb_learned"
    __table_args__ = (sa.UniqueConstraint("slug", "ticket_id"),)
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=200, index=True)
    question: str = Field(max_length=4000)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class KbReload(SQLModel, table=True):
    """A ``deskbot kb reload`` request: every running process polls the latest id and
    rebuilds its KB matcher (files + learned questions) when it grows."""

    __tablename__ = "kb_reload"
    id: int | None = Field(default=None, primary_key=True)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
