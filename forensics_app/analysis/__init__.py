"""Analyzers (registered with :func:`forensics_app.analysis.registry.analyzer`) and the job runner."""
