"""judgment cells and leaderboard cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 12:47:32.482278
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leaderboard_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_leaderboard_cache_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_leaderboard_cache'))
    )
    with op.batch_alter_table('leaderboard_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leaderboard_cache_pool_id'), ['pool_id'], unique=False)

    op.create_table('judgment_cell',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('left_model_id', sa.Integer(), nullable=False),
    sa.Column('right_model_id', sa.Integer(), nullable=False),
    sa.Column('choice', sa.Enum('left', 'right', 'tie', 'both_bad', name='choice', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['left_model_id'], ['model.id'], name=op.f('fk_judgment_cell_left_model_id_model'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_judgment_cell_pool_id_pool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['right_model_id'], ['model.id'], name=op.f('fk_judgment_cell_right_model_id_model'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'category', 'left_model_id', 'right_model_id', 'choice', name=op.f('pk_judgment_cell'))
    )
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.create_index('ix_judgment_pool_recent', ['pool_id', 'id'], unique=False)
    # Judgments recorded before this migration get their cells too.
    op.execute(
        "INSERT INTO judgment_cell (pool_id, category, left_model_id, right_model_id, choice, n) "
        "SELECT pool_id, category, left_model_id, right_model_id, choice, COUNT(*) FROM judgment "
        "GROUP BY pool_id, category, left_model_id, right_model_id, choice"
    )


def downgrade() -> None:
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_index('ix_judgment_pool_recent')
    op.drop_table('judgment_cell')
    with op.batch_alter_table('leaderboard_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leaderboard_cache_pool_id'))

    op.drop_table('leaderboard_cache')
