"""incremental alert corroboration (article fingerprints, alert keys); per-user session epoch

Revision ID: 0005_bursts
Revises: 0004
Create Date: 2026-12-02 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_bursts'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('articlefingerprint',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('outlet', sa.String(length=200), nullable=False),
    sa.Column('minhash', sa.LargeBinary(), nullable=False),
    sa.Column('killed', sa.Integer(), nullable=False),
    sa.Column('freed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id')
    )
    op.create_table('alertcorroborationkey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('cluster', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['article_id'], ['article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alertcorroborationkey', schema=None) as batch_op:
        batch_op.create_index('ix_alertcorroborationkey_alert_cluster', ['alert_id', 'cluster'], unique=False)
        batch_op.create_index('ix_alertcorroborationkey_alert_key', ['alert_id', 'key'], unique=False)
        batch_op.create_index(batch_op.f('ix_alertcorroborationkey_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alertcorroborationkey_key'), ['key'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
    with op.batch_alter_table('alertcorroborationkey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alertcorroborationkey_key'))
        batch_op.drop_index(batch_op.f('ix_alertcorroborationkey_article_id'))
        batch_op.drop_index('ix_alertcorroborationkey_alert_key')
        batch_op.drop_index('ix_alertcorroborationkey_alert_cluster')
    op.drop_table('alertcorroborationkey')
    op.drop_table('articlefingerprint')
