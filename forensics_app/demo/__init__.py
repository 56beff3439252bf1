"""Deterministic demonstration media.

:mod:`forensics_app.demo.media` writes small, seeded audio, video and image files with known,
planted properties (clipping, band limiting, a splice, dropped and duplicated video frames, an
EXIF thumbnail that no longer matches its image, a copy-move edit). The test-suite generates its
fixtures with it and the product's demo case is built from the same files, so what the demo shows
is what the tests check.
"""
