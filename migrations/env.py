"""Alembic environment: runs migrations on the engine the caller hands over.

``registry db upgrade`` and the test harness pass an engine in
``config.attributes["engine"]``; the plain ``alembic`` command (``make db-check``)
falls back to ``sqlalchemy.url`` or, failing that, the node's settings.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Engine

from registry.settings import Settings
from registry.storage import models as _models  # noqa: F401  (fills the metadata)
from registry.storage.base import UTCDateTime, metadata
from registry.storage.db import make_engine


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations need no Python-side conversion: UTCDateTime is a timestamptz column.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _engine() -> Engine:
    config = context.config
    given = config.attributes.get("engine")
    if isinstance(given, Engine):
        return given
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    return make_engine(url)


def run_migrations_online() -> None:
    """Run every pending migration inside one transaction per connection."""
    engine = _engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one, which
            # the rows referring to it would forbid; foreign keys are checked after.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=metadata,
            compare_type=True,
            compare_server_default=True,
            render_item=_render_item,
            render_as_batch=sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        connection.commit()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
