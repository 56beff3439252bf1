"""Comparative resynthesis analyzers: self-resynthesis, reference comparison, transcript alignment."""
