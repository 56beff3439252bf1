"""Transcript alignment: read a typed transcript aloud with eSpeak NG, align the rendering to a
questioned recording, and describe each word's timing and prosody.

Modules: :mod:`.text` (validation and words), :mod:`.render` (eSpeak NG rendering with word
times), :mod:`.features` (speaker-robust frame features), :mod:`.hmm` (the banded left-to-right
model), :mod:`.align` (the alignment), :mod:`.presence` (is each word really there),
:mod:`.attention` (the word x time attention matrix), :mod:`.prosody` (duration and pitch checks).
The analyzer is :mod:`forensics_app.analysis.resynthesis.transcript_alignment`.
"""
