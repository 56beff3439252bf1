"""Data generation, training loops, calibration and evaluation (driven by the CLI)."""
