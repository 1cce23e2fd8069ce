"""digest: indexes for the per-team range scans of the digest and /stats

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_ticket_team_created_at', 'ticket', ['team', 'created_at']),
    ('ix_ticket_team_resolved_at', 'ticket', ['team', 'resolved_at']),
    ('ix_ticket_team_first_response_at', 'ticket', ['team', 'first_response_at', 'created_at']),  # covering: index-only scans
    ('ix_ticket_team_status_created_at', 'ticket', ['team', 'status', 'created_at']),
    ('ix_ticket_requester_category_created_at', 'ticket', ['requester_id', 'category', 'created_at']),
    ('ix_kb_feedback_outcome_created_at', 'kb_feedback', ['outcome', 'created_at']),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
