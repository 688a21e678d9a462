"""atomic issuing (one open assignment per expert and pool, one judgment per
expert and pair) and the active scheduler's shared posterior

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_open', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('low_output_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('high_output_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pick_key', sa.Float(), server_default=sa.text('0'), nullable=False))

    # Existing rows: the newest live unanswered assignment of each expert and
    # pool stays open; every judgment gets its pair, except later duplicates
    # (judged twice before this fix), which keep NULL and so stay countable.
    op.execute(
        "UPDATE assignment SET is_open = TRUE WHERE id IN ("
        " SELECT MAX(a.id) FROM assignment a"
        " WHERE NOT EXISTS (SELECT 1 FROM judgment j WHERE j.assignment_id = a.id)"
        f" AND a.expires_at > {'LOCALTIMESTAMP' if postgres else 'CURRENT_TIMESTAMP'}"
        " GROUP BY a.expert_id, a.pool_id)")
    least, greatest = ("LEAST", "GREATEST") if postgres else ("MIN", "MAX")
    op.execute(
        f"UPDATE judgment SET low_output_id = (SELECT {least}(a.left_output_id, a.right_output_id)"
        " FROM assignment a WHERE a.id = judgment.assignment_id),"
        f" high_output_id = (SELECT {greatest}(a.left_output_id, a.right_output_id)"
        " FROM assignment a WHERE a.id = judgment.assignment_id)")
    op.execute(
        "UPDATE judgment SET low_output_id = NULL, high_output_id = NULL WHERE id NOT IN ("
        " SELECT MIN(id) FROM judgment GROUP BY expert_id, low_output_id, high_output_id)")
    op.execute("UPDATE item SET pick_key = " + ("random()" if postgres else "(random() / 18446744073709551616.0 + 0.5)"))

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('uq_assignment_open_expert_pool', ['expert_id', 'pool_id'], unique=True,
                              sqlite_where=sa.text('is_open = 1'), postgresql_where=sa.text('is_open'))
        batch_op.create_index('ix_assignment_open_pool', ['pool_id'], unique=False,
                              sqlite_where=sa.text('is_open = 1'), postgresql_where=sa.text('is_open'))
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.create_index('uq_judgment_expert_pair', ['expert_id', 'low_output_id', 'high_output_id'],
                              unique=True)
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.create_index('ix_item_pool_category_pick', ['pool_id', 'category', 'pick_key'], unique=False)

    op.create_table('scheduler_posterior',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('model_ids', sa.JSON(), nullable=False),
    sa.Column('mean', sa.JSON(), nullable=False),
    sa.Column('cov', sa.JSON(), nullable=False),
    sa.Column('pair_counts', sa.JSON(), nullable=False),
    sa.Column('judgments', sa.Integer(), nullable=False),
    sa.Column('last_judgment_id', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_scheduler_posterior_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'category', name=op.f('pk_scheduler_posterior'))
    )


def downgrade() -> None:
    op.drop_table('scheduler_posterior')
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_index('ix_item_pool_category_pick')
        batch_op.drop_column('pick_key')
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_index('uq_judgment_expert_pair')
        batch_op.drop_column('high_output_id')
        batch_op.drop_column('low_output_id')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_open_pool', sqlite_where=sa.text('is_open = 1'))
        batch_op.drop_index('uq_assignment_open_expert_pool', sqlite_where=sa.text('is_open = 1'))
        batch_op.drop_column('is_open')
