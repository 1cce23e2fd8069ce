"""kb learning: questions learned from resolved tickets, and KB reload requests

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import store.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'kb_learned',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=200), nullable=False),
        sa.Column('question', sa.String(length=4000), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=True),
        sa.Column('created_at', store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slug', 'ticket_id'),
    )
    op.create_index('ix_kb_learned_slug', 'kb_learned', ['slug'])
    op.create_index('ix_kb_learned_ticket_id', 'kb_learned', ['ticket_id'])
    op.create_table(
        'kb_reload',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requested_at', store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('kb_reload')
    op.drop_index('ix_kb_learned_ticket_id', table_name='kb_learned')
    op.drop_index('ix_kb_learned_slug', table_name='kb_learned')
    op.drop_table('kb_learned')
