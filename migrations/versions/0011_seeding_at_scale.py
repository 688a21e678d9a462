"""seeding at scale: resampled outputs, retired models, import jobs

Revision ID: 0011
Revises: 0002
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pool', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resample_outputs', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))
    op.create_table('import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('items_total', sa.Integer(), nullable=False),
    sa.Column('items_done', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_job'))
    )


def downgrade() -> None:
    op.drop_table('import_job')
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('pool', schema=None) as batch_op:
        batch_op.drop_column('resample_outputs')
