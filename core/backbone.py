"""The MAR backbone: a bidirectional transformer over [text states ; latent tokens]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.config import BackboneConfig
from t2a_edge.core.heads import timestep_embedding


class Block(nn.Module):
    """Pre-LN transformer block: self-attention with a key bias, then an MLP."""

    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, int(width * mlp_ratio))
        self.fc2 = nn.Linear(int(width * mlp_ratio), width)
        self.dropout = 0.0  # a training setting (Backbone.set_dropout), not part of the model

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor,
                rotary: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if rotary is not None:
            q, k = rotate(q, *rotary), rotate(k, *rotary)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias)
        x = x + self._drop(self.proj(attended.transpose(1, 2).reshape(b, n, d)))
        return x + self._drop(self.fc2(F.gelu(self.fc1(self.norm2(x)))))

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.dropout, self.training) if self.dropout else x


def rotary_tables(positions: torch.Tensor, dims: int, base: float = 1000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin (len(positions), dims / 2) of rotary position angles pos * base^(-2i / dims).

    The base is 1000, not the usual 10,000: sequences here are at most a few hundred tokens, and
    lower frequencies would turn by less than a radian across a whole clip.
    """
    freqs = base ** (-torch.arange(0, dims, 2, dtype=torch.float32) / dims)
    angles = positions.float()[:, None] * freqs
    return torch.cos(angles), torch.sin(angles)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding on the first 2 * cos.shape[-1] channels of each head (the rest untouched)."""
    half = cos.shape[-1]
    x1, x2, rest = x[..., :half], x[..., half:2 * half], x[..., 2 * half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, rest], dim=-1)


class Backbone(nn.Module):
    """Returns the final hidden state of each latent position: the head's condition z_i, and the
    target of representation distillation."""

    def __init__(self, cfg: BackboneConfig, token_dim: int, max_tokens: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.text_proj = nn.Linear(cfg.text_dim, w)
        self.token_proj = nn.Linear(token_dim, w)
        self.mask_token = nn.Parameter(torch.zeros(w))
        self.text_pos = nn.Parameter(torch.zeros(cfg.text_tokens, w))
        self.token_pos = nn.Parameter(torch.zeros(max_tokens, w))
        # The unconditional input for classifier-free guidance: learned null text states.
        self.null_text = nn.Parameter(torch.zeros(cfg.text_tokens, cfg.text_dim))
        self.blocks = nn.ModuleList(Block(w, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(w)
        if cfg.global_text:
            self.sentence_in = nn.Linear(cfg.text_dim, w)
            self.sentence_out = nn.Linear(cfg.text_dim, w)
        for p in (self.mask_token, self.text_pos, self.token_pos, self.null_text):
            nn.init.normal_(p, std=0.02)
        if cfg.mar_inputs:
            self.token_norm = nn.LayerNorm(w)
            self.out_pos = nn.Parameter(torch.zeros(max_tokens, w))
            nn.init.normal_(self.out_pos, std=0.02)
            # The clip's length in tokens, embedded as a diffusion timestep is: generation asks for a
            # length, and a short sound padded or a long one cropped are different targets.
            self.duration_in = nn.Linear(w, w)
        if cfg.rope_dims % 2 or cfg.rope_dims > w // cfg.heads:
            raise ValueError(f"rope_dims must be even and at most the head width {w // cfg.heads}, not {cfg.rope_dims}")
        if cfg.rope_dims:
            # Relative positions for attention between latent tokens: a learned absolute embedding
            # alone stayed near its init in CPU-sized runs (norm ~0.36 beside a token's ~8.5), which
            # left the backbone blind to which revealed tokens are neighbours. Caption states get angle 0.
            positions = torch.cat([torch.zeros(cfg.text_tokens), torch.arange(max_tokens)])
            cos, sin = rotary_tables(positions, cfg.rope_dims)
            self.register_buffer("rotary_cos", cos, persistent=False)
            self.register_buffer("rotary_sin", sin, persistent=False)

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor, tokens: torch.Tensor,
                known: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """text (B, L, 384), text_mask (B, L), tokens (B, N, D), known (B, N) -> z (B, N, W).

        Hidden positions' tokens are ignored.
        `valid` (B, N), 1 where a position is the clip's own: with mar_inputs, padding (0) is hidden
        from attention and the clip's length is its count; None (generation): every position is.
        L may be shorter than text_tokens (a training batch cut to its longest caption).
        """
        n, length = tokens.shape[1], text.shape[1]
        x_text = self.text_proj(text) + self.text_pos[:length]
        x_tokens = torch.where(known[..., None] > 0.5, self.token_proj(tokens), self.mask_token)
        x_tokens = x_tokens + self.token_pos[:n]
        token_visible = torch.ones_like(known, dtype=x_tokens.dtype) if valid is None else valid.to(x_tokens.dtype)
        if self.cfg.mar_inputs:
            x_tokens = self.token_norm(x_tokens)
            duration = token_visible.sum(1)
            length_code = timestep_embedding(duration, x_tokens.shape[-1]).to(x_tokens.dtype)
            x_tokens = x_tokens + self.duration_in(length_code)[:, None]
        if self.cfg.global_text:
            sentence = self.sentence(text, text_mask)
            x_tokens = x_tokens + self.sentence_in(sentence)
        x = torch.cat([x_text, x_tokens], dim=1)
        # Padded caption positions are hidden from attention; latent positions too where they pad (mar_inputs).
        if not self.cfg.mar_inputs:
            token_visible = torch.ones_like(known, dtype=x.dtype)
        visible = torch.cat([text_mask.to(x.dtype), token_visible], dim=1)
        key_bias = ((1.0 - visible) * -1e4)[:, None, None, :]
        rotary = None
        if self.cfg.rope_dims:
            rotary = (self.rotary_cos[:length + n], self.rotary_sin[:length + n])
            if length != self.cfg.text_tokens:  # caption states all sit at angle 0; tokens start after them
                rotary = tuple(torch.cat([table[:length], table[self.cfg.text_tokens:self.cfg.text_tokens + n]])
                               for table in (self.rotary_cos, self.rotary_sin))
        for block in self.blocks:
            x = block(x, key_bias, rotary)
        z = self.norm(x)[:, length:]
        if self.cfg.mar_inputs:
            z = z + self.out_pos[:n]
        return z + self.sentence_out(sentence) if self.cfg.global_text else z

    def set_dropout(self, p: float) -> None:
        """Drop a share p of each block's attention and MLP outputs while training (MAR's ViT: 0.1)."""
        for block in self.blocks:
            block.dropout = p

    @staticmethod
    def sentence(text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, 384) mean of the visible text states: all-MiniLM-L6-v2's sentence embedding, unnormalised."""
        weights = text_mask.to(text.dtype)[..., None]
        return (text * weights).sum(dim=1, keepdim=True) / weights.sum(dim=1, keepdim=True).clamp_min(1.0)

    def null_like(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The null text states and their mask, batched like `text` (whose length L may be short).

        With mar_inputs only the first null position is visible, so the null caption is the same
        whatever length a batch's captions are cut to; before it, every one of the L positions.
        """
        batch, length = text.shape[0], text.shape[1]
        first = 1 if self.cfg.mar_inputs else length
        mask = (torch.arange(length, device=text.device) < first).to(text.dtype).expand(batch, -1)
        return self.null_text[:length].expand(batch, -1, -1), mask
