"""the scheduler's posteriors keep their win matrix, for incremental refits,
and a version, so that a worker decodes them again only when they change;
what one expert was given on an item, and the pairs reserved ahead in a
pool (in flight for the scheduler), are indexed

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scheduler_posterior', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wins', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.String(length=32), nullable=True))
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_expert_item', ['expert_id', 'item_id'], unique=False)
        batch_op.create_index('ix_assignment_queued_pool', ['pool_id'], unique=False,
                              sqlite_where=sa.text('queued = 1'), postgresql_where=sa.text('queued'))


def downgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_queued_pool', sqlite_where=sa.text('queued = 1'))
        batch_op.drop_index('ix_assignment_expert_item')
    with op.batch_alter_table('scheduler_posterior', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('wins')
