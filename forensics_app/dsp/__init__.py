"""Signal processing shared by analyzers, views and reports: STFT, spectrogram rendering, scales. No Qt."""
