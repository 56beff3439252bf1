"""Decoded media handed to analyzers.

Analyzers never open files themselves: the runner decodes the verified stored copy into one of
these objects. Units are SI: seconds, hertz, pixels, frame indices from 0.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class MediaKind(enum.StrEnum):
    """The three kinds of evidence the workstation examines."""

    AUDIO = "audio"
    VIDEO = "video"
    IMAGE = "image"


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio.

    Attributes
    ----------
    samples : np.ndarray
        Shape (n_samples, n_channels), float32 in [-1, 1] (full scale = 1.0).
    rate : int
        Sample rate in Hz.
    path : Path
        The stored (read-only) evidence copy this clip was decoded from.
    sample_format : str
        The source sample format as declared by the container ("PCM_16", "FLOAT", "fltp", ...).
    """

    samples: np.ndarray
    rate: int
    path: Path
    sample_format: str = ""

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.samples.shape[0] / float(self.rate)

    def mono(self) -> np.ndarray:
        """Mean over channels, shape (n_samples,), float32."""
        return self.samples.mean(axis=1, dtype=np.float32)


@dataclass(frozen=True)
class PacketInfo:
    """One demuxed video packet (a coded frame).

    Attributes
    ----------
    pts_s : float | None
        Presentation time in seconds (None when the container gives none).
    dts_s : float | None
        Decoding time in seconds.
    size : int
        Coded size in bytes.
    keyframe : bool
        Whether the packet is a keyframe (intra coded).
    """

    pts_s: float | None
    dts_s: float | None
    size: int
    keyframe: bool


class FrameReader(Protocol):
    """A callable that yields decoded frames as (index, time_s, RGB uint8 array HxWx3)."""

    def __call__(self, *, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]: ...


class PacketReader(Protocol):
    """A callable that yields the video stream's packets in decoding order."""

    def __call__(self) -> Iterator[PacketInfo]: ...


@dataclass(frozen=True)
class VideoSource:
    """An opened video: metadata plus lazy readers (frames are never all held in memory).

    Attributes
    ----------
    path : Path
        Stored evidence copy.
    fps : float
        Declared average frame rate in frames per second.
    n_frames : int
        Frame count (declared, or counted at probe time).
    width, height : int
        Frame size in pixels.
    duration_s : float
        Stream duration in seconds.
    codec : str
        Video codec name.
    frames : FrameReader
        Decodes frames lazily.
    packets : PacketReader
        Demuxes packets without decoding.
    """

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int
    duration_s: float
    codec: str
    frames: FrameReader = field(repr=False)
    packets: PacketReader = field(repr=False)


@dataclass(frozen=True)
class StillImage:
    """A decoded still image.

    Attributes
    ----------
    pixels : np.ndarray
        Shape (height, width, 3), uint8 RGB (alpha dropped, palette expanded).
    path : Path
        Stored evidence copy (metadata analyzers re-read it for EXIF/XMP).
    format : str
        Container format as identified by Pillow ("JPEG", "PNG", ...).
    info : dict
        Format-specific header values from the decoder.
    """

    pixels: np.ndarray
    path: Path
    format: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.pixels.shape[0])


Media = AudioClip | VideoSource | StillImage
