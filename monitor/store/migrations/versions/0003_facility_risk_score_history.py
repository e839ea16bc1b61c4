"""facility risk score history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:39:01.583052
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('riskscore',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('factors', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('facility_id', 'day', name='uq_risk_score_day')
    )
    with op.batch_alter_table('riskscore', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_riskscore_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_riskscore_facility_id'), ['facility_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('riskscore', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_riskscore_facility_id'))
        batch_op.drop_index(batch_op.f('ix_riskscore_day'))

    op.drop_table('riskscore')
