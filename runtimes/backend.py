"""What every runtime backend provides to the shared sampling loop (numpy in, numpy out)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from t2a_edge.core.config import ModelConfig


class Backend(Protocol):
    """One runtime's view of a model: text encoder, one-iteration step, decoder."""

    name: str  # "torch", "cuda", "onnx", "openvino", "coreml", "executorch"
    precision: str  # "fp32", "fp16", "int8"
    config: ModelConfig
    kind: str  # "student" or "teacher"

    def encode_text(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(B, L) int64 ids and mask -> (B, L, 384) float32 text states."""

    def step(self, text: np.ndarray, text_mask: np.ndarray, tokens: np.ndarray, known: np.ndarray,
             noise: np.ndarray, cfg: float, temperature: float) -> np.ndarray:
        """One student iteration: (B, N, token_dim) predictions at every position."""

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """(B, N, token_dim) tokens -> (B, bins, N * patch * downsample) STFT magnitudes (core.phase makes the wave)."""
