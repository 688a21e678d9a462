"""assignment issued ahead: the judge page's next pair, reserved while the expert judges

Revision ID: 0015
Revises: 0008
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('uq_assignment_queued_expert_pool', ['expert_id', 'pool_id'], unique=True,
                              sqlite_where=sa.text('queued = 1'), postgresql_where=sa.text('queued'))


def downgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_assignment_queued_expert_pool', sqlite_where=sa.text('queued = 1'),
                            postgresql_where=sa.text('queued'))
        batch_op.drop_column('queued')
