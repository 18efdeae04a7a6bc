"""Alembic environment for the evidence store: always run by :func:`collector.store.store.open_store`.

The caller hands over an open connection in ``config.attributes["connection"]``; migrations run inside
the caller's transaction, so a store is upgraded completely or not at all.
"""

from __future__ import annotations

from alembic import context

from collector.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
context.run_migrations()
