"""Alembic's environment for the run store: it migrates the connection :func:`forecaster.io.store.migrate`
hands it (no alembic.ini: the store opens its own database)."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
