"""artifact marks, unacceptable flags, rubric criteria, judgment browser indexes

Revision ID: 0009
Revises: 0002
Create Date: 2026-12-01 14:42:27.858567
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('criterion_cell',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(length=40), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('left_model_id', sa.Integer(), nullable=False),
    sa.Column('right_model_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['left_model_id'], ['model.id'], name=op.f('fk_criterion_cell_left_model_id_model'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_criterion_cell_pool_id_pool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['right_model_id'], ['model.id'], name=op.f('fk_criterion_cell_right_model_id_model'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'criterion', 'category', 'left_model_id', 'right_model_id', 'answer', name=op.f('pk_criterion_cell'))
    )
    op.create_table('mark_cell',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('mark', sa.String(length=64), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], name=op.f('fk_mark_cell_model_id_model'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_mark_cell_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'category', 'model_id', 'mark', name=op.f('pk_mark_cell'))
    )
    op.create_table('judgment_criterion',
    sa.Column('judgment_id', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(length=40), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('left_model_id', sa.Integer(), nullable=False),
    sa.Column('right_model_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['judgment_id'], ['judgment.id'], name=op.f('fk_judgment_criterion_judgment_id_judgment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['left_model_id'], ['model.id'], name=op.f('fk_judgment_criterion_left_model_id_model'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_judgment_criterion_pool_id_pool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['right_model_id'], ['model.id'], name=op.f('fk_judgment_criterion_right_model_id_model'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('judgment_id', 'criterion', name=op.f('pk_judgment_criterion'))
    )
    with op.batch_alter_table('judgment_criterion', schema=None) as batch_op:
        batch_op.create_index('ix_judgment_criterion_browse', ['pool_id', 'criterion', 'answer', 'judgment_id'], unique=False)

    op.create_table('judgment_mark',
    sa.Column('judgment_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=5), nullable=False),
    sa.Column('mark', sa.String(length=64), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['judgment_id'], ['judgment.id'], name=op.f('fk_judgment_mark_judgment_id_judgment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], name=op.f('fk_judgment_mark_model_id_model'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_judgment_mark_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('judgment_id', 'side', 'mark', name=op.f('pk_judgment_mark'))
    )
    with op.batch_alter_table('judgment_mark', schema=None) as batch_op:
        batch_op.create_index('ix_judgment_mark_browse', ['pool_id', 'mark', 'judgment_id'], unique=False)

    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unacceptable_left', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('unacceptable_right', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('criteria', sa.JSON(), nullable=True))
        batch_op.create_index('ix_judgment_browse_category', ['pool_id', 'category', 'id'], unique=False)
        batch_op.create_index('ix_judgment_browse_expert', ['pool_id', 'expert_id', 'id'], unique=False)
        batch_op.create_index('ix_judgment_browse_left', ['pool_id', 'left_model_id', 'id'], unique=False)
        batch_op.create_index('ix_judgment_browse_pair', ['pool_id', 'left_model_id', 'right_model_id', 'id'], unique=False)
        batch_op.create_index('ix_judgment_browse_right', ['pool_id', 'right_model_id', 'id'], unique=False)

    with op.batch_alter_table('pool', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('criteria', sa.JSON(), nullable=True))
    _mark_existing_tags()


def _mark_existing_tags() -> None:
    """Judgments recorded before this migration get their tag marks too."""
    judgment = sa.table('judgment', sa.column('id'), sa.column('pool_id'), sa.column('category'),
                        sa.column('left_model_id'), sa.column('right_model_id'),
                        sa.column('tags_left', sa.JSON()), sa.column('tags_right', sa.JSON()))
    mark = sa.table('judgment_mark', sa.column('judgment_id'), sa.column('side'), sa.column('mark'),
                    sa.column('pool_id'), sa.column('category'), sa.column('model_id'))
    bind = op.get_bind()
    rows = []
    for j in bind.execute(sa.select(judgment)):
        for side, model_id, tags in (('left', j.left_model_id, j.tags_left), ('right', j.right_model_id, j.tags_right)):
            for tag in sorted(set(tags or [])):
                rows.append({'judgment_id': j.id, 'side': side, 'mark': tag, 'pool_id': j.pool_id,
                             'category': j.category, 'model_id': model_id})
        if len(rows) > 5000:
            bind.execute(mark.insert(), rows)
            rows = []
    if rows:
        bind.execute(mark.insert(), rows)
    op.execute(
        "INSERT INTO mark_cell (pool_id, category, model_id, mark, n) "
        "SELECT pool_id, category, model_id, mark, COUNT(*) FROM judgment_mark "
        "GROUP BY pool_id, category, model_id, mark"
    )


def downgrade() -> None:
    with op.batch_alter_table('pool', schema=None) as batch_op:
        batch_op.drop_column('criteria')
        batch_op.drop_column('tags')

    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_index('ix_judgment_browse_right')
        batch_op.drop_index('ix_judgment_browse_pair')
        batch_op.drop_index('ix_judgment_browse_left')
        batch_op.drop_index('ix_judgment_browse_expert')
        batch_op.drop_index('ix_judgment_browse_category')
        batch_op.drop_column('criteria')
        batch_op.drop_column('unacceptable_right')
        batch_op.drop_column('unacceptable_left')

    with op.batch_alter_table('judgment_mark', schema=None) as batch_op:
        batch_op.drop_index('ix_judgment_mark_browse')

    op.drop_table('judgment_mark')
    with op.batch_alter_table('judgment_criterion', schema=None) as batch_op:
        batch_op.drop_index('ix_judgment_criterion_browse')

    op.drop_table('judgment_criterion')
    op.drop_table('mark_cell')
    op.drop_table('criterion_cell')
