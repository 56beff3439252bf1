"""torch network architectures (no file I/O). See :mod:`forensics_app.nets.torchaudio_cpu`."""
