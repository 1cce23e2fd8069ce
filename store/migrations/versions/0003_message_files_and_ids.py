"""ticket messages: attachments (file references), platform chat and message id, edits

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket_message') as batch:
        batch.add_column(sa.Column('attachments', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('chat_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('message_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('edit_of', sa.Integer(), nullable=True))
    op.create_index('ix_ticket_message_platform_message', 'ticket_message', ['platform', 'chat_id', 'message_id'])


def downgrade() -> None:
    op.drop_index('ix_ticket_message_platform_message', table_name='ticket_message')
    with op.batch_alter_table('ticket_message') as batch:
        batch.drop_column('edit_of')
        batch.drop_column('message_id')
        batch.drop_column('chat_id')
        batch.drop_column('attachments')
