"""Developer tool: autogenerate the next migration from the models.

    python -m monitor.store.new_migration "add user table"

It builds a scratch SQLite store at the current head, compares it with the models and writes
monitor/store/migrations/versions/NNNN_<message>.py. Read and test the result before committing.
"""

from __future__ import annotations

import sys
import tempfile

from alembic import command

from monitor.store.db import make_engine
from monitor.store.migrate import alembic_config, head_revision, upgrade_store


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/scratch.db")
    upgrade_store(engine)
    next_id = f"{int(head_revision()) + 1:04d}"
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=sys.argv[1], autogenerate=True, rev_id=next_id)


if __name__ == "__main__":
    main()
