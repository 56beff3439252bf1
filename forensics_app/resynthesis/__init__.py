"""Self-resynthesis: push audio through analysis-synthesis vocoders and measure what changes.

* :mod:`.round_trips` – the registry of deterministic 16 kHz round trips (WORLD, Griffin-Lim, LPC,
  the project's neural vocoder).
* :mod:`.sample_align` – aligns a round trip's output with its input to the sample and matches gain.
* :mod:`.residuals` – per-frame and per-band residuals between input and aligned output.
* :mod:`.features` – chunked computation of residual tracks over a whole recording, and the
  window- and file-level feature vectors the residual detector is trained on.
"""
