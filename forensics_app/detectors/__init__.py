"""Synthetic-speech detectors: model catalog, windowed scoring and explanation maps."""
