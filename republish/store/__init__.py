"""Database access: SQLAlchemy Core queries, one function per operation."""
