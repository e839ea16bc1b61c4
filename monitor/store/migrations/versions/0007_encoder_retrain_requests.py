"""retrain requests: the dashboard queues a retrain with feedback, the worker runs it

Revision ID: 0005_encoder
Revises: 0004
Create Date: 2026-12-02 08:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_encoder'
down_revision = '0005_kb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retrainrequest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('version', sa.String(length=80), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('retrainrequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrainrequest_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrainrequest_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('retrainrequest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retrainrequest_state'))
        batch_op.drop_index(batch_op.f('ix_retrainrequest_requested_at'))
    op.drop_table('retrainrequest')
