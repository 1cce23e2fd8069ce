"""scheduler: SLA pause on tickets, profile time zones, the scheduled-action log, the runner lease

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import store.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('sla_paused_at', store.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('sla_paused_minutes', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('identity') as batch:
        batch.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
    op.create_table(
        'scheduled_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('team', sa.String(length=64), nullable=True),
        sa.Column('due_at', store.models.UTCDateTime(), nullable=True),
        sa.Column('done_at', store.models.UTCDateTime(), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_scheduled_action_kind', 'scheduled_action', ['kind'])
    op.create_index('ix_scheduled_action_ticket_id', 'scheduled_action', ['ticket_id'])
    op.create_table(
        'runner_lease',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('acquired_at', store.models.UTCDateTime(), nullable=False),
        sa.Column('expires_at', store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('runner_lease')
    op.drop_index('ix_scheduled_action_ticket_id', table_name='scheduled_action')
    op.drop_index('ix_scheduled_action_kind', table_name='scheduled_action')
    op.drop_table('scheduled_action')
    with op.batch_alter_table('identity') as batch:
        batch.drop_column('timezone')
    with op.batch_alter_table('ticket') as batch:
        batch.drop_column('sla_paused_minutes')
        batch.drop_column('sla_paused_at')
