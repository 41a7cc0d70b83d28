"""Alembic environment: uses the engine handed over by app.migrations; batch mode on SQLite."""

from alembic import context

from app.migrations.models import metadata

config = context.config


def _render_item(type_, obj, autogen_context):
    # Render our column types with an import, so generated migrations run without edits.
    if type_ == "type" and obj.__class__.__module__ == "app.core.time":
        autogen_context.imports.add("import app.core.time")
        return f"app.core.time.{obj.__class__.__name__}()"
    if type_ == "type" and obj.__class__.__module__.startswith("sqlmodel"):
        autogen_context.imports.add("import sqlmodel")
        return f"sqlmodel.sql.sqltypes.{obj.__class__.__name__}(length={getattr(obj, 'length', None)!r})"
    return False


def run_migrations_online() -> None:
    """Run migrations on the engine that app.migrations passed in."""
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          render_item=_render_item, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
