"""identity: a partial index on the people who blocked the bot (the outbox's unreachable check)

Every batch of due outbox rows asks which of their chats belong to someone who blocked the
bot. Without this index that read walks every identity of the platform (one per employee
who ever wrote); with it, only the few marked unreachable.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

UNREACHABLE = sa.text("unreachable_at IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_identity_unreachable', 'identity', ['platform', 'dm_chat_id', 'platform_user_id'],
                    sqlite_where=UNREACHABLE, postgresql_where=UNREACHABLE)


def downgrade() -> None:
    op.drop_index('ix_identity_unreachable', table_name='identity')
