"""The frozen text encoder: all-MiniLM-L6-v2 as a small BERT of our own, read from its package."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.tokenizer import minilm_dir

TEXT_DIM = 384


class BertLayer(nn.Module):
    """Post-LN BERT block with the Hugging Face parameter names."""

    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=1e-12)
        self.intermediate = nn.Linear(dim, hidden)
        self.output = nn.Linear(hidden, dim)
        self.out_norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = self.attn_norm(x + self.attn_out(context))
        return self.out_norm(x + self.output(F.gelu(self.intermediate(x))))


class TextEncoder(nn.Module):
    """Token ids and mask -> contextual token states (B, L, 384); frozen, no pooling."""

    def __init__(self, vocab: int = 30522, dim: int = TEXT_DIM, layers: int = 6, heads: int = 12,
                 hidden: int = 1536, positions: int = 512):
        super().__init__()
        self.word = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(positions, dim)
        self.token_type = nn.Embedding(2, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer(dim, heads, hidden) for _ in range(layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.word(ids) + self.position(positions)[None] + self.token_type.weight[0])
        # Additive attention bias built with plain arithmetic (no new_ones: CoreML can lower this).
        bias = (1.0 - mask.to(x.dtype))[:, None, None, :] * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        return x

    @classmethod
    def pretrained(cls, folder: Path | None = None) -> "TextEncoder":
        """Build the encoder and load all-MiniLM-L6-v2's safetensors (no hub, no transformers)."""
        from safetensors.torch import load_file

        folder = folder or minilm_dir()
        config = json.loads((folder / "config.json").read_text())
        model = cls(config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
                    config["num_attention_heads"], config["intermediate_size"],
                    config["max_position_embeddings"])
        model.load_state_dict(_rename_bert(load_file(str(folder / "model.safetensors"))))
        return model.eval().requires_grad_(False)


def _rename_bert(weights: dict) -> dict:
    """Map Hugging Face BertModel names onto this module's names."""
    renamed = {}
    table = {
        "embeddings.word_embeddings": "word", "embeddings.position_embeddings": "position",
        "embeddings.token_type_embeddings": "token_type", "embeddings.LayerNorm": "norm",
        "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
        "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_norm",
        "intermediate.dense": "intermediate", "output.dense": "output", "output.LayerNorm": "out_norm",
    }
    for name, tensor in weights.items():
        if name.startswith("pooler.") or name.endswith("position_ids"):
            continue
        new = name.replace("encoder.layer.", "layers.")
        for old, short in table.items():
            new = new.replace(old, short)
        renamed[new] = tensor
    return renamed
