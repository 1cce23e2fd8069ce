"""linking accounts: one-time link codes (as digests) and failed attempts (rate limit)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import store.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'link_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('identity_id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', store.models.UTCDateTime(), nullable=False),
        sa.Column('expires_at', store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.ForeignKeyConstraint(['identity_id'], ['identity.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('person_id'),
        sa.UniqueConstraint('code_hash'),
    )
    op.create_table(
        'link_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('at', store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_link_attempt_person_at', 'link_attempt', ['person_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_link_attempt_person_at', table_name='link_attempt')
    op.drop_table('link_attempt')
    op.drop_table('link_code')
