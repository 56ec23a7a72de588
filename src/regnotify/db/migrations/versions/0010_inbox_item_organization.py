"""inbox item organization

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A notice's organization, as Quay's: set at fan-out when the notification's target is an
    # organization. Notices already stored keep null.
    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_inbox_items_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:

    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_inbox_items_organization_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_column("organization_id")
