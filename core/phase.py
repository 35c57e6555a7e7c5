"""Phase recovery for the codec's magnitudes: Griffin-Lim with FFTs, in numpy, outside every graph.

Every backend's decoder stops at STFT magnitudes and this one function turns them into a waveform,
so the same magnitudes give the same audio on every backend. Written as fixed DFT convolutions
inside the decoder graph it cost 9 matrix products of 642 x 640 per frame and more than half of
a one-step generation (10 s: 97 ms in torch); with real FFTs it is a few milliseconds per
transform. An app that runs the ExecuTorch or CoreML decoder does the same with its platform's FFT.

The start phase is fixed, so the output is deterministic, and separable: a random angle per bin plus
one per frame, both drawn from np.random.default_rng(1) (bins first, then frames). With a momentum
above 0 the iterations are Fast Griffin-Lim (Perraudin, Balazs and Sondergaard, 2013): each step goes
past the consistent spectrum along its last move, so fewer iterations reach the same consistency.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

START_SEED = 1
_FRAME_ANGLE_BLOCK = 8192  # frame angles are drawn in one block of this many, longer clips extend it


def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window (the one that sums to a constant at 75% overlap)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float64)


def start_angles(bins: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed separable start of Griffin-Lim: an angle per bin and one per frame."""
    rng = np.random.default_rng(START_SEED)
    bin_angle = rng.uniform(-np.pi, np.pi, bins)
    frame_angle = rng.uniform(-np.pi, np.pi, max(frames, _FRAME_ANGLE_BLOCK))[:frames]
    return bin_angle, frame_angle


class PhaseRecovery:
    """Griffin-Lim for one STFT geometry (n_fft an even multiple of hop), centred frames.

    The signal lives in blocks of one hop: a frame is `overlap` consecutive blocks, so the inverse
    STFT adds each frame's blocks in place and the next STFT reads its frames straight from the same
    buffer. The work buffers are kept between calls (per thread): fresh arrays of a few MB cost page
    faults on every iteration, about as much as the FFTs themselves.
    """

    def __init__(self, n_fft: int, hop: int, iterations: int, momentum: float = 0.0):
        if n_fft % (2 * hop):
            raise ValueError(f"n_fft ({n_fft}) must be an even multiple of hop ({hop})")
        self.n_fft, self.hop, self.iterations, self.momentum = n_fft, hop, iterations, momentum
        self.overlap = n_fft // hop
        self.window = hann(n_fft).astype(np.float32)
        self._envelope: tuple[int, np.ndarray] | None = None  # the last length's only: lengths vary
        self._start: tuple[np.ndarray, np.ndarray] | None = None
        self._start_grid: np.ndarray | None = None  # the last length's (frames, bins) start phase
        self._local = threading.local()  # work buffers: one generation per thread at a time

    def start_phase(self, bins: int, frames: int) -> np.ndarray:
        """(frames, bins) unit complex numbers, exp(i * (frame angle + bin angle)); do not modify it."""
        grid = self._start_grid
        if grid is not None and grid.shape == (frames, bins):
            return grid  # kept: the outer product cost a millisecond per call at 10 s
        if self._start is None or len(self._start[0]) != bins or len(self._start[1]) < frames:
            bin_angle, frame_angle = start_angles(bins, frames)
            self._start = (np.exp(1j * bin_angle).astype(np.complex64), np.exp(1j * frame_angle).astype(np.complex64))
        per_bin, per_frame = self._start
        self._start_grid = per_frame[:frames, None] * per_bin[None, :]
        return self._start_grid

    def _inverse_envelope(self, count: int) -> np.ndarray:
        """(count, hop): 1 / the summed squared window of `count` frames over the signal's blocks."""
        if self._envelope is None or self._envelope[0] != count:
            squares = (self.window**2).reshape(1, 1, self.overlap, self.hop)
            squares = np.broadcast_to(squares, (1, count, self.overlap, self.hop))
            blocks = self._overlap_add(squares, np.empty((1, count + self.overlap, self.hop), np.float32))[0]
            half = self.overlap // 2
            self._envelope = (count, 1.0 / np.maximum(blocks[half:half + count], 1e-8))
        return self._envelope[1]

    def _overlap_add(self, parts: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """(B, T, overlap, hop) frames in blocks -> `blocks` (B, T + overlap, hop): frame t's block j on block t + j."""
        count = parts.shape[1]
        blocks.fill(0.0)
        for j in range(self.overlap):
            blocks[:, j:j + count] += parts[:, :, j]
        return blocks

    def _buffer(self, name: str, shape: tuple, dtype=np.float32) -> np.ndarray:
        """This thread's work buffer `name` of `shape` (made again when the shape changes)."""
        buffer = getattr(self._local, name, None)
        if buffer is None or buffer.shape != shape:
            buffer = np.empty(shape, dtype)
            setattr(self._local, name, buffer)
        return buffer

    def _signal_blocks(self, spectrum: np.ndarray) -> np.ndarray:
        """(B, T, bins) complex -> the inverse STFT in this thread's block buffer, zero-padded by half a frame.

        The blocks are (B, T + overlap, hop): `overlap / 2` zero blocks each side of the signal.
        """
        batch, count = spectrum.shape[:2]
        frames = np.fft.irfft(spectrum, n=self.n_fft, axis=-1, out=self._buffer("frames", (batch, count, self.n_fft)))
        frames *= self.window
        blocks = self._overlap_add(frames.reshape(batch, count, self.overlap, self.hop),
                                   self._buffer("blocks", (batch, count + self.overlap, self.hop)))
        half = self.overlap // 2
        blocks[:, half:half + count] *= self._inverse_envelope(count)
        blocks[:, :half] = 0.0  # outside the signal: the centred STFT's zero padding
        blocks[:, half + count:] = 0.0
        return blocks

    def _frames_stft(self, padded: np.ndarray, count: int, out: np.ndarray) -> np.ndarray:
        """(B, samples + n_fft) zero-padded signal -> `out` (B, count, bins) complex64: its first `count` frames."""
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft, axis=1)[:, ::self.hop][:, :count]
        windowed = np.multiply(frames, self.window, out=self._buffer("frames", frames.shape))
        # The real FFT, written into `out`: n * conj(ihfft). numpy's float32 rfft (and ihfft with
        # norm="forward") measured 3-4 ms against 0.8 for scipy's rfft, which cannot write into a buffer,
        # and for this ihfft.
        np.fft.ihfft(windowed, axis=-1, out=out)
        np.conjugate(out, out=out)
        out *= self.n_fft
        return out

    def istft(self, spectrum: np.ndarray) -> np.ndarray:
        """(B, T, bins) complex -> (B, T * hop) waveform; matches torch.istft(center=True)."""
        batch, count = spectrum.shape[:2]
        half = self.overlap // 2
        return self._signal_blocks(spectrum)[:, half:half + count].reshape(batch, -1).copy()

    def stft(self, wave: np.ndarray, count: int) -> np.ndarray:
        """(B, samples) -> (B, count, bins) complex: the first `count` centred, zero-padded frames."""
        half = self.n_fft // 2
        out = np.empty((len(wave), count, self.n_fft // 2 + 1), np.complex64)
        return self._frames_stft(np.pad(np.asarray(wave, np.float32), ((0, 0), (half, half))), count, out)

    def _spectrum(self, magnitude: np.ndarray) -> np.ndarray:
        """(B, T, bins) float32 magnitudes -> (B, T, bins) complex64 spectrum with the recovered phase,
        possibly in this thread's buffer: use it before the next call."""
        batch, count, bins = magnitude.shape
        spectrum = np.multiply(magnitude, self.start_phase(bins, count),
                               out=self._buffer("spectrum", magnitude.shape, np.complex64))
        scale = self._buffer("scale", magnitude.shape)
        # Two buffers in turn for STFT(ISTFT(spectrum)): with momentum the last one is still needed.
        outputs = [self._buffer(f"consistent{k}", magnitude.shape, np.complex64) for k in range(2)]
        previous = None
        for iteration in range(self.iterations):
            blocks = self._signal_blocks(spectrum)
            consistent = self._frames_stft(blocks.reshape(batch, -1), count, outputs[iteration % 2])
            if self.momentum and previous is not None:
                np.subtract(consistent, previous, out=spectrum)  # the last move, continued:
                spectrum *= self.momentum  # c + momentum * (c - c_prev)
                spectrum += consistent
            elif self.momentum:
                np.copyto(spectrum, consistent)  # `consistent` is kept for the next step
            else:
                spectrum = consistent
            previous = consistent
            # Keep the rebuilt phase, put the target magnitude back: S <- S * |target| / |S|,
            # in place (these element-wise passes cost as much as the FFTs when written out).
            np.abs(spectrum, out=scale)
            np.maximum(scale, 1e-6, out=scale)
            np.divide(magnitude, scale, out=scale)
            spectrum *= scale
        return spectrum

    def phase(self, magnitude: np.ndarray) -> np.ndarray:
        """(B, T, bins) float32 magnitudes (> 0) -> (B, T, bins) unit complex64 phase after the iterations."""
        return self._spectrum(magnitude) / magnitude

    def __call__(self, magnitude: np.ndarray) -> np.ndarray:
        """(B, bins, T) STFT magnitudes -> (B, T * hop) float32 waveform."""
        swapped = np.swapaxes(np.asarray(magnitude), 1, 2)  # (B, T, bins)
        frames_first = self._buffer("magnitude", swapped.shape)
        np.copyto(frames_first, swapped, casting="same_kind")
        return self.istft(self._spectrum(frames_first))


@functools.lru_cache(maxsize=8)
def _shared(n_fft: int, hop: int, iterations: int, momentum: float) -> PhaseRecovery:
    return PhaseRecovery(n_fft, hop, iterations, momentum)


def phase_recovery(codec_config) -> PhaseRecovery:
    """The shared PhaseRecovery a codec config asks for (it keeps its start phase, envelope and buffers)."""
    c = codec_config
    return _shared(c.n_fft, c.hop, c.griffin_lim_iterations, c.griffin_lim_momentum)


def synthesize(magnitude: np.ndarray, codec_config) -> np.ndarray:
    """(B, bins, T) magnitudes from a codec decoder -> (B, T * hop) waveform, with its STFT geometry."""
    return phase_recovery(codec_config)(magnitude)
