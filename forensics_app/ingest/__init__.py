"""Evidence acquisition: copy and hash, probe, decode."""
