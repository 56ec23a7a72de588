"""tag expirations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 13:59:00.181638
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tag_expirations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_tag_expirations_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_expirations")),
        sa.UniqueConstraint("repository_id", "tag", name="uq_tag_expirations_repository_tag"),
    )
    with op.batch_alter_table("tag_expirations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tag_expirations_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "expiry_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_expiry_notices_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expiry_notices")),
        sa.UniqueConstraint("notification_id", "tag", "expires_at", name="uq_expiry_notices_key"),
    )


def downgrade() -> None:

    op.drop_table("expiry_notices")
    with op.batch_alter_table("tag_expirations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_expirations_expires_at"))

    op.drop_table("tag_expirations")
