"""image statistics for style control

Revision ID: 0008
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('image_stat',
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('luminance', sa.Double(), nullable=False),
    sa.Column('saturation', sa.Double(), nullable=False),
    sa.Column('sharpness', sa.Double(), nullable=False),
    sa.Column('megapixels', sa.Double(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['image.id'], name=op.f('fk_image_stat_image_id_image'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', name=op.f('pk_image_stat'))
    )


def downgrade() -> None:
    op.drop_table('image_stat')
