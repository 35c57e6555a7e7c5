"""A labelled log-spectrogram picture of generated clips (matplotlib, numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def log_spectrogram(samples: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """(frames, bins) dB magnitudes with a Hann window."""
    padded = np.pad(samples, (n_fft // 2, n_fft // 2))
    count = 1 + (len(padded) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(padded, (count, n_fft), (padded.strides[0] * hop, padded.strides[0]))
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1))
    return 20 * np.log10(spectrum + 1e-6)


def check_spectrogram_path(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse, in one line, a spectrogram path that is not a .png or cannot be written (before any work)."""
    from t2a_edge.core.errors import T2AError
    from t2a_edge.core.paths import check_output_file

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise T2AError(f"--spectrogram wants a .png path, got {path}")
    return check_output_file(path, overwrite, "--spectrogram")


def save_spectrogram(clips, path: str | Path, overwrite: bool = False) -> Path:
    """One row per clip, titled with its prompt; time in seconds, frequency in kHz."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from t2a_edge.core.audio import atomic_write_bytes

    path = check_spectrogram_path(path, overwrite)
    fig, axes = plt.subplots(len(clips), 1, figsize=(8, 2.6 * len(clips)), squeeze=False)
    for ax, clip in zip(axes[:, 0], clips):
        db = log_spectrogram(clip.samples)
        image = ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max(),
                          extent=[0, clip.seconds, 0, clip.sample_rate / 2000])
        ax.set_title(f'"{clip.prompt}"', fontsize=10)
        ax.set_ylabel("kHz")
        fig.colorbar(image, ax=ax, label="dB")
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    atomic_write_bytes(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return path
