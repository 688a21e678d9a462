"""judge page: unsure mark, pinned tags, skips

Revision ID: 0010
Revises: 0002
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsure', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('pins', sa.JSON(), nullable=True))

    op.create_table('skip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_skip_assignment_id_assignment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['expert_id'], ['user_account.id'], name=op.f('fk_skip_expert_id_user_account')),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_skip_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_skip_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skip')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_skip_assignment_id'))
    )
    with op.batch_alter_table('skip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_skip_pool_id'), ['pool_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('skip', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_skip_pool_id'))
    op.drop_table('skip')
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_column('pins')
        batch_op.drop_column('unsure')
