"""Audio I/O at the project's fixed format: 16 kHz mono float32, written atomically."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from t2a_edge.core.errors import T2AError
from t2a_edge.core.paths import check_output_file, write_error

SAMPLE_RATE = 16_000
WRITABLE_SUFFIXES = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels of a (frames, channels) array; pass mono through."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling between integer rates (scipy's resample_poly)."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(samples, rate_out // g, rate_in // g).astype(np.float32)


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any soundfile-readable file as mono float32 at `sample_rate`."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise T2AError(f"cannot read audio file {path}: {exc}") from None
    return resample(to_mono(data), rate, sample_rate)


def atomic_write_bytes(path: Path, write) -> None:
    """Call `write(tmp_path)` then rename onto `path`, so a crash never leaves half a file."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:  # one line naming `path` (core.paths.write_error), not a traceback
        raise write_error(path, exc) from None
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file owner-only; the user's umask decides, as for any file they write.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise


def write_sound_file(path: Path, samples: np.ndarray, sample_rate: int, fmt: str, subtype: str | None) -> None:
    """soundfile's write, atomic; a full disk is raised as OSError(ENOSPC) naming `path`."""
    import soundfile as sf

    path = Path(path)

    def write(tmp):
        try:
            sf.write(tmp, samples, sample_rate, format=fmt, subtype=subtype)
        except sf.SoundFileError as exc:
            # libsndfile reports a full disk as a bare "System error": name it, so the CLI says so.
            if shutil.disk_usage(path.parent).free < np.asarray(samples).nbytes:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
            raise T2AError(f"cannot write {path}: {exc}") from None

    atomic_write_bytes(path, write)


def save_audio(path: str | os.PathLike, samples: np.ndarray, sample_rate: int = SAMPLE_RATE,
               overwrite: bool = False) -> Path:
    """Write mono audio as WAV/FLAC/OGG (by suffix) atomically; refuse to overwrite unless asked."""
    path = Path(path)
    fmt = WRITABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise T2AError(f"unsupported output format '{path.suffix}' for {path}: use .wav, .flac or .ogg")
    check_output_file(path, overwrite)
    samples = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    write_sound_file(path, samples, sample_rate, fmt, "PCM_16" if fmt in ("WAV", "FLAC") else None)
    return path
