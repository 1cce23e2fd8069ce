"""request-form fields, resolution note, CSAT comment, unreachable identities

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import store.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('csat_comment', sa.Text(), nullable=True))
        batch.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))
        batch.add_column(sa.Column('fields', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('identity') as batch:
        batch.add_column(sa.Column('unreachable_at', store.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('identity') as batch:
        batch.drop_column('unreachable_at')
    with op.batch_alter_table('ticket') as batch:
        batch.drop_column('fields')
        batch.drop_column('resolution_note')
        batch.drop_column('csat_comment')
