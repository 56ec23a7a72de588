"""source namespaces

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # A service token's namespaces; null (every token made before) is every namespace.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("namespaces", JSON_DOCUMENT, nullable=True))

    # The source token whose event created an organization; organizations made before keep null.
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_token_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_organizations_created_by_token_id"), ["created_by_token_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_created_by_token_id_api_tokens"),
            "api_tokens",
            ["created_by_token_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_organizations_created_by_token_id_api_tokens"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_organizations_created_by_token_id"))
        batch_op.drop_column("created_by_token_id")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("namespaces")
