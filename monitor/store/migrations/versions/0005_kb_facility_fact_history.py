"""facility fact history: every dated value of operator, status, capacity and population, with its source

Revision ID: 0005_kb
Revises: 0004
Create Date: 2026-12-02 08:05:00

Existing stores keep what they knew: each facility's current operator/status/capacity/population becomes
the first entry of its history, with the source and as-of date its `facts` recorded for it.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0005_kb'
down_revision = '0004'
branch_labels = None
depends_on = None

FIELDS = ("operator", "status", "capacity", "population")


def upgrade() -> None:
    op.create_table('facilityfactvalue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('source_url', sa.String(length=2000), nullable=True),
    sa.Column('as_of', sa.String(length=10), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('facilityfactvalue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facilityfactvalue_facility_id'), ['facility_id'], unique=False)
    _backfill()


def _backfill() -> None:
    connection = op.get_bind()
    facility = sa.table('facility', sa.column('id'), sa.column('origin'), sa.column('facts', sa.JSON),
                        sa.column('local_fields', sa.JSON), sa.column('updated_at'),
                        *(sa.column(name) for name in FIELDS))
    fact_value = sa.table('facilityfactvalue', sa.column('facility_id'), sa.column('field'),
                          sa.column('value', sa.JSON), sa.column('source_url'), sa.column('as_of'),
                          sa.column('origin'), sa.column('recorded_by'), sa.column('recorded_at'))
    rows = []
    for row in connection.execute(sa.select(facility)).mappings():
        facts, local = row['facts'], row['local_fields']
        # JSON columns come back parsed on PostgreSQL and SQLite alike; a raw string is parsed here just in case.
        facts = json.loads(facts or '{}') if isinstance(facts, str) else (facts or {})
        local = json.loads(local or '[]') if isinstance(local, str) else (local or [])
        for name in FIELDS:
            if row[name] is None:
                continue
            fact = facts.get(name) or {}
            # A value an analyst or an import set is theirs; the rest came with the bundled file.
            origin = 'analyst' if name in local else ('bundled' if row['origin'] == 'bundled' else 'import')
            rows.append({'facility_id': row['id'], 'field': name, 'value': row[name],
                         'source_url': fact.get('source'), 'as_of': fact.get('as_of') or None, 'origin': origin,
                         'recorded_by': 'migration 0005', 'recorded_at': row['updated_at']})
    if rows:
        op.bulk_insert(fact_value, rows)


def downgrade() -> None:
    with op.batch_alter_table('facilityfactvalue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facilityfactvalue_facility_id'))

    op.drop_table('facilityfactvalue')
