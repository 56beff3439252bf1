"""Evidence views; :data:`VIEW_FOR_KIND` picks the view class for a media kind.

:class:`AlignmentView` is not a view of its own kind: the audio view shows it under its plots for a
finding of a reference comparison or a transcript alignment.
"""

from __future__ import annotations

from forensics_app.gui.views.alignment_view import AlignmentView
from forensics_app.gui.views.audio_view import AudioView
from forensics_app.gui.views.image_view import ImageView
from forensics_app.gui.views.overlays import EvidenceView
from forensics_app.gui.views.video_view import VideoView

VIEW_FOR_KIND: dict[str, type[EvidenceView]] = {
    "audio": AudioView,
    "image": ImageView,
    "video": VideoView,
}
"""Media kind (``Evidence.media_kind``) -> view class. Plugins may add kinds here."""

__all__ = ["VIEW_FOR_KIND", "AlignmentView", "AudioView", "EvidenceView", "ImageView", "VideoView"]
