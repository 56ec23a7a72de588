"""Storage: the engine and its sessions, the tables, and the Alembic migration chain."""

from regnotify.db.engine import DATABASE_ERRORS, Database
from regnotify.db.migrate import migrate, migration_is_current

__all__ = ["DATABASE_ERRORS", "Database", "migrate", "migration_is_current"]
