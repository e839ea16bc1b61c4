"""alert grouping and outbox states

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 11:30:02.804492
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        # Alerts that predate grouping keys get an empty one; the next signal for them starts a new group.
        batch_op.add_column(sa.Column('group_key', sa.String(length=400), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('notified_severity', sa.String(length=10), nullable=True))
        batch_op.create_index(batch_op.f('ix_alert_group_key'), ['group_key'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sending_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('status',
               existing_type=sa.VARCHAR(length=10),
               type_=sa.String(length=12),
               existing_nullable=False)



def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('status',
               existing_type=sa.String(length=12),
               type_=sa.VARCHAR(length=10),
               existing_nullable=False)
        batch_op.drop_column('sending_started_at')

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_group_key'))
        batch_op.drop_column('notified_severity')
        batch_op.drop_column('group_key')

