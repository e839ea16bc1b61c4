"""Alembic environment: runs on the connection `monitor.store.migrate` hands it.

New migration: `python -m monitor.store.new_migration "what changed"` autogenerates one from the models.
"""

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from monitor.store import schema  # noqa: F401  (registers every table on SQLModel.metadata)

target_metadata = SQLModel.metadata


def include_name(name, type_, parent_names):
    # APScheduler keeps its job store in the same database; that table is its own business.
    return not (type_ == "table" and name and name.startswith("apscheduler"))


def render_item(type_, obj, autogen_context):
    """Write SQLModel's column types as plain SQLAlchemy ones, so migrations never import sqlmodel."""
    if type_ == "type":
        if isinstance(obj, AutoString):
            return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
        if type(obj).__name__ == "UTCDateTime":
            return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables safely, keeping rows.
    render_as_batch=True,
    compare_type=True,
    include_name=include_name,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
