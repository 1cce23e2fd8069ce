"""outbox: a partial index on the pending rows of a ticket's card (superseding stale edits)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index('ix_outbox_pending_card', 'outbox', ['ticket_id', 'card'],
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index('ix_outbox_pending_card', table_name='outbox')
