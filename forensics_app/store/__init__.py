"""The case store: SQLite through SQLAlchemy 2.0, content-addressed evidence and artifacts."""
