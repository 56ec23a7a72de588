"""source webhook secret

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The secret a sender signs its deliveries with (GitHub's X-Hub-Signature-256), sealed with the
    # secret key; null (every token made before, and sources that send no signature) is none.
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35+): copying the table, as batch mode otherwise
    # does on SQLite, would drop the old one, and with foreign keys on that sets every organization's
    # created_by_token_id to null.
    with op.batch_alter_table("api_tokens", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("webhook_secret")
