"""Pure-Python domain types: no Qt, SQLAlchemy or torch."""
