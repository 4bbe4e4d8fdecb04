"""Alembic's environment: the revisions run on the connection ``storage.migrations.upgrade``
hands over (``config.attributes["connection"]``), inside its transaction."""

from __future__ import annotations

from alembic import context

from storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Choreo's migrations run on an open database: `choreo db upgrade`, or at start")
# SQLite changes a column by copying its table (batch mode); the revisions are written for both
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
