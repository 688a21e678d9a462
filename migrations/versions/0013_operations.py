"""operations: idempotent judgment submission, audit log

Revision ID: 0013
Revises: 0002
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('request_sha256', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_judgment_expert_idempotency_key', ['expert_id', 'idempotency_key'], unique=True)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))
    op.drop_table('audit_event')
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_index('uq_judgment_expert_idempotency_key')
        batch_op.drop_column('request_sha256')
        batch_op.drop_column('idempotency_key')
