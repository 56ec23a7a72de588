"""The tables: accounts and permissions, repositories, notifications, events and the delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from regnotify.db.types import JSONDocument, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (DeclarativeBase allows any FromClause).
        __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The source token whose event created it (counted against SOURCE_MAX_NEW_NAMESPACES); null
    # for organizations an operator made, and for those created before this was recorded.
    created_by_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL"), index=True
    )


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("organization_id", "name", name="uq_teams_organization_name"),
        CheckConstraint("role IN ('member', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(lazy="raise")


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (
        UniqueConstraint("namespace", "name", name="uq_repositories_namespace_name"),
        CheckConstraint("(owner_id IS NULL) <> (organization_id IS NULL)", name="one_owner"),
        CheckConstraint("visibility IN ('private', 'public')", name="visibility"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class RepositoryPermission(Base):
    __tablename__ = "repository_permissions"
    __table_args__ = (
        UniqueConstraint("repository_id", "user_id", name="uq_repository_permissions_user"),
        UniqueConstraint("repository_id", "team_id", name="uq_repository_permissions_team"),
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_grantee"),
        CheckConstraint("role IN ('read', 'write', 'admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; ``kind`` is ``user`` or ``service`` (a source)."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('user', 'service')", name="kind"),
        CheckConstraint("(kind = 'user') = (user_id IS NOT NULL)", name="user_for_user_tokens"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A service token's namespaces (a JSON list of names): it posts to those only. Null: every
    # namespace (``--all-namespaces``, and every token made before scopes existed).
    namespaces: Mapped[list[str] | None] = mapped_column(JSONDocument)
    # The secret a source's sender signs its deliveries with (GitHub's ``X-Hub-Signature-256``),
    # sealed with the secret key (``runtime/crypto.py``). Null: none (the sender signs nothing).
    webhook_secret: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """A repository's subscription (Quay's RepositoryNotification). Secret config values are sealed."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_repository_event", "repository_id", "event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    event_config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    number_of_failures: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Event(Base):
    """Something that happened in one repository, stored once. ``external_id`` makes re-posts idempotent."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("repository_id", "external_id", name="uq_events_repository_external_id"),
        Index("ix_events_repository_received", "repository_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    # Plain JSON on both engines: PostgreSQL's json keeps the field order Quay's payloads have.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# A pending delivery the destination gate holds back has ``lease_owner`` = HELD_PREFIX + its reason
# (``held:slow``, ``held:quarantined``) until ``lease_expires_at``: the worker writes it, the
# delivery log reads it.
HELD_PREFIX = "held:"


class Delivery(Base):
    """One notification's job to deliver one event: a row of the outbox queue."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'succeeded', 'failed', 'cancelled')", name="state"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_notification_created", "notification_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One try of a delivery: when, how long, what happened. Kept for the delivery log."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        CheckConstraint("outcome IN ('succeeded', 'failed')", name="outcome"),
        UniqueConstraint("delivery_id", "number", name="uq_delivery_attempts_delivery_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    worker: Mapped[str] = mapped_column(String(64))


class InboxItem(Base):
    """One in-app notice for one user (the bell). One per (delivery, user): retries never repeat it."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        UniqueConstraint("delivery_id", "user_id", name="uq_inbox_items_delivery_user"),
        Index("ix_inbox_items_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    # Quay's ``organization`` of a notice: set only when the notification's target was an
    # organization (target kind ``org``); None for user and team targets and our own notices.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    item_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthorizedEmail(Base):
    """An e-mail address allowed to receive a repository's notifications, once confirmed.

    Only the SHA-256 of the confirmation code is stored; codes expire. ``send_count`` and
    ``window_started_at`` rate-limit verification mails per address and repository.
    """

    __tablename__ = "authorized_emails"
    __table_args__ = (
        UniqueConstraint("repository_id", "email", name="uq_authorized_emails_repository_email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_count: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TagPush(Base):
    """The last digest notified for each tag of a repository: re-pushes inside the window notify once."""

    __tablename__ = "tag_pushes"
    __table_args__ = (UniqueConstraint("repository_id", "tag", name="uq_tag_pushes_repository_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(255))
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestRejection(Base):
    """An event a source sent in good faith that could not be used, and why (superusers read these)."""

    __tablename__ = "ingest_rejections"
    __table_args__ = (Index("ix_ingest_rejections_received", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    excerpt: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Build(Base):
    """A build a CI system reports (regnotify runs none): its phase and what its events carry."""

    __tablename__ = "builds"
    __table_args__ = (
        CheckConstraint("phase IN ('queued', 'started', 'success', 'failure', 'cancelled')", name="phase"),
        Index("ix_builds_repository_created", "repository_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    fields: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # the build's own event fields
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VulnerabilitySighting(Base):
    """A vulnerability once seen in one manifest of a repository: each is notified only the first time.

    ``manifest`` is the manifest digest, or ``tags:`` and the sorted tags when no digest is known.
    """

    __tablename__ = "vulnerability_sightings"
    __table_args__ = (
        UniqueConstraint(
            "repository_id", "manifest", "vulnerability_id", name="uq_vulnerability_sightings_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    manifest: Mapped[str] = mapped_column(String(255))
    vulnerability_id: Mapped[str] = mapped_column(String(255))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TagExpiration(Base):
    """When a tag expires, as a registry or tool reported it."""

    __tablename__ = "tag_expirations"
    __table_args__ = (UniqueConstraint("repository_id", "tag", name="uq_tag_expirations_repository_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ExpiryNotice(Base):
    """A ``repo_image_expiry`` already queued for (notification, tag, expiry): never twice."""

    __tablename__ = "expiry_notices"
    __table_args__ = (UniqueConstraint("notification_id", "tag", "expires_at", name="uq_expiry_notices_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored here, so
    signing out (deleting the row) really revokes it. ``csrf_token`` guards every form of the session."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class NotificationChange(Base):
    """The audit log of a repository's notifications: who created, deleted, re-enabled or tested one,
    and when the system disabled one. Rows outlive the notification (its uuid and title are copied)."""

    __tablename__ = "notification_changes"
    __table_args__ = (Index("ix_notification_changes_repository_id", "repository_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))  # Quay's log kinds: add_repo_notification, ...
    notification_uuid: Mapped[str] = mapped_column(String(36))
    performer: Mapped[str | None] = mapped_column(String(255))  # "user:alice", "service:ci"; None: the system
    change_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
