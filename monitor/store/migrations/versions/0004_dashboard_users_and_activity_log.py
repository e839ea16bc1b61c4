"""dashboard users activity log model versions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:32:41.027830
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activitylog',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('activitylog', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activitylog_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_activitylog_at'), ['at'], unique=False)

    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_severity'), ['severity'], unique=False)

    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=20), nullable=False, server_default='packaged'))
        batch_op.add_column(sa.Column('trained_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('activated_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('modelversion', schema=None) as batch_op:
        batch_op.drop_column('activated_at')
        batch_op.drop_column('activated_by')
        batch_op.drop_column('trained_by')
        batch_op.drop_column('origin')

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_severity'))

    op.drop_table('app_user')
    with op.batch_alter_table('activitylog', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activitylog_at'))
        batch_op.drop_index(batch_op.f('ix_activitylog_action'))

    op.drop_table('activitylog')
