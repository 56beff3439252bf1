"""Channel augmentation: the same transmission chain applied to bona fide and spoofed speech.

A detector must not learn "clean studio audio = real": every training item passes through a
:class:`Channel`, a chain of :data:`Step` objects (codec re-encoding, resampling, band limiting,
additive noise, reverberation, gain), drawn with :func:`sample_channel` and applied with
:func:`apply_channel`. A spoof and its bona fide source get the same chain and the same seed, so
the only systematic difference between the classes is the synthesis.

The single operations are public (:func:`reencode`, :func:`resample_roundtrip`,
:func:`add_noise`, :func:`band_limit`, :func:`reverberate`, :func:`change_gain`) for the
robustness re-scoring, which degrades evidence the same way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import av
import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt, sosfiltfilt

from forensics_app.domain.errors import ForensicsError
from forensics_app.training.audio_io import fit_length, peak, resample

#: Largest peak :func:`apply_channel` lets through (keeps 16-bit WAVs unclipped).
MAX_PEAK = 0.999

#: Largest codec delay :func:`reencode` looks for (samples at the signal's rate).
MAX_CODEC_DELAY = 8192


# --------------------------------------------------------------------------------------------
# Codecs


@dataclass(frozen=True)
class CodecSpec:
    """How one lossy codec is written with PyAV.

    Attributes
    ----------
    encoder : str
        FFmpeg encoder name.
    container : str
        FFmpeg muxer the stream is wrapped in.
    sample_format : str
        The encoder's float sample format (``"fltp"`` or ``"flt"``).
    bitrates : tuple of int
        Bitrates (bit/s) :func:`sample_channel` draws from.
    """

    encoder: str
    container: str
    sample_format: str
    bitrates: tuple[int, ...]

    def encode_rate(self, rate: int) -> int:
        """The sample rate the encoder runs at for a ``rate`` Hz signal (``rate`` when supported)."""
        rates = sorted(av.codec.Codec(self.encoder, "w").audio_rates or ())
        if not rates or rate in rates:
            return rate
        higher = [r for r in rates if r >= rate]
        return higher[0] if higher else rates[-1]


#: Codecs of :func:`reencode`, by name.
CODECS: dict[str, CodecSpec] = {
    "mp3": CodecSpec("libmp3lame", "mp3", "fltp", (24_000, 32_000, 48_000, 64_000, 96_000)),
    "aac": CodecSpec("aac", "adts", "fltp", (16_000, 24_000, 32_000, 48_000, 64_000)),
    "opus": CodecSpec("libopus", "ogg", "flt", (8_000, 12_000, 16_000, 24_000, 32_000)),
}


def _codec(codec: str) -> CodecSpec:
    try:
        return CODECS[codec]
    except KeyError:
        raise ForensicsError(f"unknown codec {codec!r}; expected one of {sorted(CODECS)}") from None


def _encode_decode(x: np.ndarray, *, rate: int, spec: CodecSpec, bitrate: int, out_rate: int) -> np.ndarray:
    """Encode ``x`` (at ``rate``) in memory and decode it back at ``out_rate``, raw (not aligned)."""
    buf = io.BytesIO()
    try:
        with av.open(buf, "w", format=spec.container) as out:
            stream = out.add_stream(spec.encoder, rate=rate, layout="mono", format=spec.sample_format)
            stream.bit_rate = int(bitrate)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x, dtype=np.float32)[None, :], format=spec.sample_format, layout="mono",
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        buf.seek(0)
        chunks: list[np.ndarray] = []
        with av.open(buf, "r") as inp:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=out_rate)
            for decoded in inp.decode(inp.streams.audio[0]):
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(decoded))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.FFmpegError as exc:
        raise ForensicsError(f"re-encoding with {spec.encoder} at {bitrate} bit/s failed: {exc}") from exc
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _roundtrip(x: np.ndarray, *, rate: int, spec: CodecSpec, bitrate: int) -> np.ndarray:
    enc_rate = spec.encode_rate(rate)
    xin = resample(x, src_rate=rate, dst_rate=enc_rate) if enc_rate != rate else x
    return _encode_decode(xin, rate=enc_rate, spec=spec, bitrate=bitrate, out_rate=rate)


@lru_cache(maxsize=64)
def codec_delay(codec: str, bitrate: int, rate: int) -> int:
    """Samples the decoded signal lags the input by (encoder priming not trimmed by the demuxer).

    Measured once per (codec, bitrate, rate) by cross-correlating a fixed 1 s band-limited noise
    probe with its re-encoded copy.

    Returns
    -------
    int
        Delay in samples at ``rate`` (0 for MP3 and Opus, whose containers signal their priming;
        1024 for raw AAC in ADTS).
    """
    spec = _codec(codec)
    probe_rng = np.random.default_rng(20240601)
    probe = sosfilt(butter(4, min(3000.0, 0.4 * rate), fs=rate, output="sos"), probe_rng.standard_normal(rate))
    probe = (0.3 * probe / np.max(np.abs(probe))).astype(np.float32)
    y = _roundtrip(probe, rate=rate, spec=spec, bitrate=bitrate)
    span = min(MAX_CODEC_DELAY, len(y) - 1)
    cc = fftconvolve(y[: len(probe) + span].astype(np.float64), probe[::-1].astype(np.float64), mode="full")
    lags = np.arange(len(cc)) - (len(probe) - 1)
    ok = (lags >= -span) & (lags <= span)
    return int(lags[ok][np.argmax(cc[ok])])


def reencode(wave: np.ndarray, *, rate: int, codec: str, bitrate: int) -> np.ndarray:
    """Pass a signal through a lossy codec and back, time-aligned to the input.

    Parameters
    ----------
    wave : ndarray, shape (n,)
        Mono signal at ``rate`` Hz.
    rate : int
        Sample rate (Hz); the codec runs at this rate where it supports it (else the next higher one).
    codec : {"mp3", "aac", "opus"}
        Codec name (see :data:`CODECS`).
    bitrate : int
        Target bitrate (bit/s), e.g. 64000.

    Returns
    -------
    ndarray, shape (n,), float32
        The decoded signal, encoder delay removed, cropped or zero-padded to ``n`` samples.
    """
    spec = _codec(codec)
    x = np.asarray(wave, dtype=np.float32)
    if x.size == 0:
        return x.copy()
    y = _roundtrip(x, rate=rate, spec=spec, bitrate=bitrate)
    delay = codec_delay(codec, int(bitrate), int(rate))
    y = y[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay, np.float32), y])
    return fit_length(y, len(x))


# --------------------------------------------------------------------------------------------
# Other single operations


def resample_roundtrip(wave: np.ndarray, *, rate: int, via_rate: int) -> np.ndarray:
    """Resample to ``via_rate`` and back (a narrow-band or odd-rate stage in the chain).

    Returns
    -------
    ndarray, shape (n,), float32
        Band-limited to ``min(rate, via_rate) / 2`` Hz.
    """
    x = np.asarray(wave, dtype=np.float32)
    y = resample(resample(x, src_rate=rate, dst_rate=via_rate), src_rate=via_rate, dst_rate=rate)
    return fit_length(y, len(x))


def _coloured_noise(n: int, *, colour: str, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if colour == "white" or n < 2:
        return white
    exponent = {"pink": 0.5, "brown": 1.0}.get(colour)
    if exponent is None:
        raise ForensicsError(f"unknown noise colour {colour!r}; expected white, pink or brown")
    spec = np.fft.rfft(white)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / f**exponent, n)


def add_noise(
    wave: np.ndarray, *, snr_db: float, rng: np.random.Generator, colour: str = "white",
) -> np.ndarray:
    """Add noise at a signal-to-noise ratio.

    Parameters
    ----------
    wave : ndarray, shape (n,)
        Mono signal.
    snr_db : float
        ``10 log10(mean(wave**2) / mean(noise**2))`` over the whole signal (dB), exact.
    rng : numpy.random.Generator
        Noise source.
    colour : {"white", "pink", "brown"}
        Noise spectrum (flat, 1/f, 1/f^2 power).

    Returns
    -------
    ndarray, shape (n,), float32
    """
    x = np.asarray(wave, dtype=np.float32)
    noise = _coloured_noise(len(x), colour=colour, rng=rng)
    p_signal = float(np.mean(x.astype(np.float64) ** 2)) if x.size else 0.0
    p_noise = float(np.mean(noise**2)) if x.size else 0.0
    if p_signal <= 0.0 or p_noise <= 0.0:
        return x.copy()
    scale = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (x + scale * noise).astype(np.float32)


def band_limit(
    wave: np.ndarray, *, rate: int, low_hz: float | None = None, high_hz: float | None = None,
) -> np.ndarray:
    """Zero-phase Butterworth high-pass at ``low_hz`` and/or low-pass at ``high_hz`` (order 6).

    Returns
    -------
    ndarray, shape (n,), float32
    """
    x = np.asarray(wave, dtype=np.float32)
    nyquist = rate / 2.0
    y = x.astype(np.float64)
    if high_hz is not None and high_hz < nyquist and len(x) > 64:
        y = sosfiltfilt(butter(6, high_hz, btype="lowpass", fs=rate, output="sos"), y)
    if low_hz is not None and 0 < low_hz < nyquist and len(x) > 64:
        y = sosfiltfilt(butter(6, low_hz, btype="highpass", fs=rate, output="sos"), y)
    return y.astype(np.float32)


def room_impulse_response(*, rate: int, rt60_s: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response: a direct path then exponentially decaying noise.

    Parameters
    ----------
    rate : int
        Sample rate (Hz).
    rt60_s : float
        Time for the tail to decay by 60 dB (s).
    drr_db : float
        Direct-to-reverberant energy ratio (dB).
    rng : numpy.random.Generator
        Source of the tail's noise and of its onset (2-10 ms after the direct path).

    Returns
    -------
    ndarray, shape (about 1.2 * rt60_s * rate,), float64
        ``h[0] == 1`` (the direct path, so the output stays time-aligned).
    """
    onset = int(rng.uniform(0.002, 0.010) * rate)
    length = max(onset + 2, int(1.2 * rt60_s * rate))
    t = np.arange(length - onset) / rate
    tail = rng.standard_normal(len(t)) * np.exp(-np.log(1000.0) * t / rt60_s)
    tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
    h = np.zeros(length)
    h[0] = 1.0
    h[onset:] = tail
    return h


def reverberate(
    wave: np.ndarray, *, rate: int, rt60_s: float, drr_db: float, rng: np.random.Generator,
) -> np.ndarray:
    """Convolve with :func:`room_impulse_response`; output cropped to the input's length."""
    x = np.asarray(wave, dtype=np.float32)
    h = room_impulse_response(rate=rate, rt60_s=rt60_s, drr_db=drr_db, rng=rng)
    return fftconvolve(x.astype(np.float64), h)[: len(x)].astype(np.float32)


def change_gain(wave: np.ndarray, *, db: float) -> np.ndarray:
    """Multiply by ``10 ** (db / 20)`` (float32)."""
    return (np.asarray(wave, dtype=np.float32) * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Steps and channels


class Step(Protocol):
    """One stage of a channel: a short readable label and the operation."""

    @property
    def label(self) -> str:
        """Short readable name, e.g. ``"mp3-64k"``."""

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        """Transform a mono float32 signal; the output has the input's length."""


def _k(value: float) -> str:
    """``64000 -> "64k"``, ``22050 -> "22.05k"``."""
    return f"{value / 1000:g}k"


@dataclass(frozen=True)
class Codec:
    """Lossy re-encoding (see :func:`reencode`)."""

    codec: str
    bitrate: int

    @property
    def label(self) -> str:
        return f"{self.codec}-{_k(self.bitrate)}"

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        return reencode(wave, rate=rate, codec=self.codec, bitrate=self.bitrate)


@dataclass(frozen=True)
class Resample:
    """Resampling to ``via_rate`` and back (see :func:`resample_roundtrip`)."""

    via_rate: int

    @property
    def label(self) -> str:
        return f"resample-{_k(self.via_rate)}"

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        return resample_roundtrip(wave, rate=rate, via_rate=self.via_rate)


@dataclass(frozen=True)
class BandLimit:
    """High-pass and/or low-pass filtering (see :func:`band_limit`)."""

    low_hz: float | None = None
    high_hz: float | None = None

    @property
    def label(self) -> str:
        if self.low_hz and self.high_hz:
            return f"band-{self.low_hz:g}-{self.high_hz:g}Hz"
        if self.high_hz:
            return f"lowpass-{_k(self.high_hz)}"
        return f"highpass-{self.low_hz or 0:g}Hz"

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        return band_limit(wave, rate=rate, low_hz=self.low_hz, high_hz=self.high_hz)


@dataclass(frozen=True)
class Noise:
    """Additive noise at an SNR (see :func:`add_noise`)."""

    snr_db: float
    colour: str = "white"

    @property
    def label(self) -> str:
        kind = "noise" if self.colour == "white" else f"{self.colour}noise"
        return f"{kind}-{self.snr_db:g}dB"

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        return add_noise(wave, snr_db=self.snr_db, rng=rng, colour=self.colour)


@dataclass(frozen=True)
class Reverb:
    """Synthetic room reverberation (see :func:`reverberate`)."""

    rt60_s: float
    drr_db: float = 6.0

    @property
    def label(self) -> str:
        return f"reverb-{self.rt60_s:g}s"

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        return reverberate(wave, rate=rate, rt60_s=self.rt60_s, drr_db=self.drr_db, rng=rng)


@dataclass(frozen=True)
class Gain:
    """Level change (see :func:`change_gain`)."""

    db: float

    @property
    def label(self) -> str:
        return f"gain{self.db:+g}dB"

    def apply(self, wave: np.ndarray, *, rate: int, rng: np.random.Generator) -> np.ndarray:
        return change_gain(wave, db=self.db)


@dataclass(frozen=True)
class Channel:
    """A named chain of steps, applied in order.

    Attributes
    ----------
    name : str
        Short readable name (the manifest's ``channel`` column), e.g. ``"mp3-64k+noise-25dB"``.
    steps : tuple of Step
        The chain; empty for ``"clean"``.
    """

    name: str
    steps: tuple[Step, ...] = ()

    @classmethod
    def of(cls, steps: tuple[Step, ...] | list[Step]) -> Channel:
        """A channel named after its steps' labels joined by ``+`` (``"clean"`` when empty)."""
        steps = tuple(steps)
        return cls("+".join(s.label for s in steps) or "clean", steps)


#: The identity channel.
CLEAN = Channel("clean", ())


def sample_channel(rng: np.random.Generator) -> Channel:
    """Draw a realistic channel.

    15 % are level-only (a gain of -12 to +6 dB). The rest chain, in the order a recording
    travels: room reverberation (25 %), noise (40 %, white/pink/brown at 5-40 dB SNR), band
    limiting (30 %: telephone band, 4-7 kHz low-pass or 150 Hz high-pass), resampling through
    8 / 11.025 / 22.05 kHz (30 %), codec re-encoding (60 %: MP3, AAC or Opus at several bitrates;
    forced when nothing else was drawn) and a final gain (25 %).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every choice.

    Returns
    -------
    Channel
        Never the clean channel.
    """
    if rng.random() < 0.15:
        return Channel.of([Gain(float(rng.integers(-12, 7) or -3))])
    steps: list[Step] = []
    if rng.random() < 0.25:
        steps.append(Reverb(rt60_s=round(float(rng.uniform(0.15, 0.8)), 2), drr_db=round(float(rng.uniform(0, 12)), 1)))
    if rng.random() < 0.4:
        colour = ("white", "pink", "brown")[int(rng.integers(3))]
        steps.append(Noise(snr_db=float(rng.choice([5, 10, 15, 20, 25, 30, 40])), colour=colour))
    if rng.random() < 0.3:
        choices = (BandLimit(300.0, 3400.0), BandLimit(None, 4000.0), BandLimit(None, 5500.0),
                   BandLimit(None, 7000.0), BandLimit(150.0, None))
        steps.append(choices[int(rng.integers(len(choices)))])
    if rng.random() < 0.3:
        steps.append(Resample(int(rng.choice([8000, 11025, 22050]))))
    if rng.random() < 0.6 or not steps:
        name = sorted(CODECS)[int(rng.integers(len(CODECS)))]
        bitrates = CODECS[name].bitrates
        steps.append(Codec(name, int(bitrates[int(rng.integers(len(bitrates)))])))
    if rng.random() < 0.25:
        steps.append(Gain(float(rng.integers(-9, 4) or -3)))
    return Channel.of(steps)


def apply_channel(wave: np.ndarray, *, rate: int, channel: Channel, rng_seed: int) -> np.ndarray:
    """Pass a signal through a channel, deterministically.

    Parameters
    ----------
    wave : ndarray, shape (n,)
        Mono signal at ``rate`` Hz.
    rate : int
        Sample rate (Hz).
    channel : Channel
        The chain.
    rng_seed : int
        Seed of the noise and room realisations; give a spoof and its bona fide source the same
        seed so both get the same realisation.

    Returns
    -------
    ndarray, shape (n,), float32
        Scaled down to a peak of :data:`MAX_PEAK` when the chain pushed it above.
    """
    rng = np.random.default_rng(rng_seed)
    x = np.asarray(wave, dtype=np.float32)
    y = x
    for step in channel.steps:
        y = fit_length(step.apply(y, rate=rate, rng=rng), len(x))
    if not np.all(np.isfinite(y)):
        raise ForensicsError(f"channel {channel.name} produced NaN or infinity")
    p = peak(y)
    if p > MAX_PEAK:
        y = y * np.float32(MAX_PEAK / p)
    return np.asarray(y, dtype=np.float32)
