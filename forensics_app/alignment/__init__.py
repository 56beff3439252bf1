"""Alignment of two recordings: common front end, banded DTW, departures, spectral and speaker comparison.

Modules, by concept:

* :mod:`~forensics_app.alignment.frontend`: any audio -> 16 kHz mono, level, speech activity,
  normalised spectral features (10 ms frames);
* :mod:`~forensics_app.alignment.dtw`: dynamic time warping in bounded memory (coarse to fine);
* :mod:`~forensics_app.alignment.departures`: inserted, deleted and replaced spans, shared material,
  slope of the path;
* :mod:`~forensics_app.alignment.compare`: the whole comparison of a questioned recording with a
  reference;
* :mod:`~forensics_app.alignment.spectral_difference`: content and channel difference along the path;
* :mod:`~forensics_app.alignment.matrix`: the similarity map at display size with the path;
* :mod:`~forensics_app.alignment.speaker_encoder`: the GE2E speaker encoder (Resemblyzer's weights);
* :mod:`~forensics_app.alignment.speaker_similarity`: speaker similarity segment by segment.

torch is imported only by the speaker modules.
"""
