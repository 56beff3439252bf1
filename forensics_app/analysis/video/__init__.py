"""video analyzers."""
