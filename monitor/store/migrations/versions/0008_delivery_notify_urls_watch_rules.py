"""delivery: notification URLs on subscribers and in the outbox, watch rules and their matches

Revision ID: 0005_delivery
Revises: 0004
Create Date: 2026-12-02 08:17:36.556070
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_delivery'
down_revision = '0005_encoder'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('watchrule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_through', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('watchrule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchrule_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchrule_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('watchmatch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('matched', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ),
    sa.ForeignKeyConstraint(['rule_id'], ['watchrule.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rule_id', 'article_id', name='uq_watch_match')
    )
    with op.batch_alter_table('watchmatch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchmatch_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchmatch_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchmatch_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchmatch_rule_id'), ['rule_id'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=10), nullable=False, server_default='email'))
        batch_op.add_column(sa.Column('target_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('target_shown', sa.String(length=2000), nullable=True))

    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('notify_urls', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=320),
               nullable=True)
        batch_op.create_unique_constraint('uq_subscriber_name', ['name'])



def downgrade() -> None:
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_constraint('uq_subscriber_name', type_='unique')
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=320),
               nullable=False)
        batch_op.drop_column('notify_urls')
        batch_op.drop_column('name')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('target_shown')
        batch_op.drop_column('target_key')
        batch_op.drop_column('channel')

    with op.batch_alter_table('watchmatch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchmatch_rule_id'))
        batch_op.drop_index(batch_op.f('ix_watchmatch_facility_id'))
        batch_op.drop_index(batch_op.f('ix_watchmatch_article_id'))
        batch_op.drop_index(batch_op.f('ix_watchmatch_alert_id'))

    op.drop_table('watchmatch')
    with op.batch_alter_table('watchrule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchrule_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_watchrule_facility_id'))

    op.drop_table('watchrule')
