"""image analyzers."""
