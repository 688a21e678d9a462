"""gold pairs and exclusions (issue 7): gold_pair, expert_exclusion, exclusion_event;
assignment.gold_pair_id/gold_side, judgment.gold_pair_id

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-01 14:24:27.728859
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exclusion_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['expert_id'], ['user_account.id'], name=op.f('fk_exclusion_event_expert_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_exclusion_event_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exclusion_event'))
    )
    with op.batch_alter_table('exclusion_event', schema=None) as batch_op:
        batch_op.create_index('ix_exclusion_event_pool', ['pool_id', 'id'], unique=False)

    op.create_table('expert_exclusion',
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('excluded_by_id', sa.Integer(), nullable=True),
    sa.Column('excluded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['excluded_by_id'], ['user_account.id'], name=op.f('fk_expert_exclusion_excluded_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['expert_id'], ['user_account.id'], name=op.f('fk_expert_exclusion_expert_id_user_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_expert_exclusion_pool_id_pool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'expert_id', name=op.f('pk_expert_exclusion'))
    )
    op.create_table('gold_pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('better_output_id', sa.Integer(), nullable=False),
    sa.Column('worse_output_id', sa.Integer(), nullable=True),
    sa.Column('worse_image_id', sa.Integer(), nullable=True),
    sa.Column('degradation', sa.String(length=40), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['better_output_id'], ['output.id'], name=op.f('fk_gold_pair_better_output_id_output'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_gold_pair_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_gold_pair_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['pool.id'], name=op.f('fk_gold_pair_pool_id_pool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worse_image_id'], ['image.id'], name=op.f('fk_gold_pair_worse_image_id_image')),
    sa.ForeignKeyConstraint(['worse_output_id'], ['output.id'], name=op.f('fk_gold_pair_worse_output_id_output'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gold_pair'))
    )
    with op.batch_alter_table('gold_pair', schema=None) as batch_op:
        batch_op.create_index('ix_gold_pair_pool_item', ['pool_id', 'item_id'], unique=False)

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gold_pair_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('gold_side', sa.String(length=5), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignment_gold_pair_id_gold_pair'), 'gold_pair', ['gold_pair_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gold_pair_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_judgment_gold_pair_id_gold_pair'), 'gold_pair', ['gold_pair_id'], ['id'], ondelete='CASCADE')



def downgrade() -> None:
    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_judgment_gold_pair_id_gold_pair'), type_='foreignkey')
        batch_op.drop_column('gold_pair_id')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignment_gold_pair_id_gold_pair'), type_='foreignkey')
        batch_op.drop_column('gold_side')
        batch_op.drop_column('gold_pair_id')

    with op.batch_alter_table('gold_pair', schema=None) as batch_op:
        batch_op.drop_index('ix_gold_pair_pool_item')

    op.drop_table('gold_pair')
    op.drop_table('expert_exclusion')
    with op.batch_alter_table('exclusion_event', schema=None) as batch_op:
        batch_op.drop_index('ix_exclusion_event_pool')

    op.drop_table('exclusion_event')
