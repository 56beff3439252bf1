"""audio analyzers."""
