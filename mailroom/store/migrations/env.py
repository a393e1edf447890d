"""Alembic environment: runs on the connection `mailroom.store.db.migrate` passes in."""

from alembic import context

from mailroom.store.schema import include_name, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    # `alembic revision --autogenerate` from a shell: use MAILROOM_DATABASE_URL or the default.
    from mailroom.store.db import make_engine

    with make_engine().begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                          include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()
