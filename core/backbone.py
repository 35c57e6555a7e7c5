"""The MAR backbone: a bidirectional transformer over [text states ; latent tokens]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.config import BackboneConfig


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


class ClipEncoder(nn.Module):
    """The posterior q(c | clip) of a clip code: per-token MLP, mean over the clip's own tokens, then
    the mean and log-variance of a Gaussian as wide as a token."""

    def __init__(self, token_dim: int, width: int):
        super().__init__()
        self.per_token = nn.Sequential(nn.Linear(token_dim, width), nn.GELU(), nn.Linear(width, width), nn.GELU())
        self.out = nn.Linear(width, 2 * token_dim)
        # Zero at first: q starts as the prior N(0, I), so the student starts as its teacher.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, N, D), valid (B, N) -> mean, log-variance (B, 1, D)."""
        weights = valid[..., None]
        pooled = (self.per_token(tokens) * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp_min(1.0)
        mean, logvar = self.out(pooled).chunk(2, dim=-1)
        return mean, logvar.clamp(-10.0, 5.0)


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
        if cfg.mask_noise or cfg.clip_code:
            # Small at first, so a student starting from its teacher's backbone starts from its states.
            self.noise_proj = nn.Linear(token_dim, w)
            nn.init.normal_(self.noise_proj.weight, std=0.02)
            nn.init.zeros_(self.noise_proj.bias)
        if cfg.clip_code:
            self.clip_encoder = ClipEncoder(token_dim, w)  # training only: the sampler draws c from the prior
            # The code also goes straight to the hidden positions' output, as the sentence does: fed
            # only at the input, through eight blocks, a student barely used it in 600 steps (README: v33).
            # Zero at first, so the student starts from its teacher's states.
            self.code_out = nn.Linear(token_dim, w)
            nn.init.zeros_(self.code_out.weight)
            nn.init.zeros_(self.code_out.bias)
        if cfg.local_kernel % 2 == 0 and cfg.local_kernel:
            raise ValueError(f"local_kernel must be odd, not {cfg.local_kernel}")
        if cfg.local_kernel:
            # A linear map of the revealed neighbours' embeddings at offsets -r..r, added to every
            # position's input: a revealed neighbour predicts a token better than anything else, and
            # attention did not learn to find neighbours in a CPU-sized run (README: v17). A dense
            # map at the usual init, not per-channel weights from zero: with Adam at 3e-4 a weight
            # moves ~0.6 in 2000 steps at most, too little for a per-channel weight to reach 1.
            self.local_mix = nn.Linear(cfg.local_kernel * w, w)
        if cfg.rope_dims % 2 or cfg.rope_dims > w // cfg.heads:
            raise ValueError(f"rope_dims must be even and at most the head width {w // cfg.heads}, not {cfg.rope_dims}")
        if cfg.rope_dims:
            # Relative positions for attention between latent tokens. A learned absolute embedding
            # alone barely moved from its 0.02 init in a CPU-sized run, which left the backbone blind
            # to where revealed tokens sit (it treated them as a bag). Caption states get angle 0.
            # Measured with the neighbour path in a 2000-step teacher: no gain (README: v17).
            positions = torch.cat([torch.zeros(cfg.text_tokens), torch.arange(max_tokens)])
            cos, sin = rotary_tables(positions, cfg.rope_dims)
            self.register_buffer("rotary_cos", cos, persistent=False)
            self.register_buffer("rotary_sin", sin, persistent=False)

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor, tokens: torch.Tensor,
                known: torch.Tensor) -> torch.Tensor:
        """text (B, L, 384), text_mask (B, L), tokens (B, N, D), known (B, N) -> z (B, N, W).

        Hidden positions' tokens are ignored, or with mask_noise / clip_code read as the noise of one draw.
        """
        n = tokens.shape[1]
        x_text = self.text_proj(text) + self.text_pos
        embedded, revealed = self.token_proj(tokens), known[..., None] > 0.5
        noisy = self.cfg.mask_noise or self.cfg.clip_code
        hidden = self.mask_token + self.noise_proj(tokens) if noisy else self.mask_token
        x_tokens = torch.where(revealed, embedded, hidden)
        if self.cfg.local_kernel:
            x_tokens = x_tokens + self.neighbours(torch.where(revealed, embedded, 0.0))
        x_tokens = x_tokens + self.token_pos[:n]
        if self.cfg.global_text:
            sentence = self.sentence(text, text_mask)
            x_tokens = x_tokens + self.sentence_in(sentence)
        x = torch.cat([x_text, x_tokens], dim=1)
        # Padded caption positions are hidden from attention; latent positions are always visible.
        visible = torch.cat([text_mask.to(x.dtype), torch.ones_like(known, dtype=x.dtype)], dim=1)
        key_bias = ((1.0 - visible) * -1e4)[:, None, None, :]
        rotary = None
        if self.cfg.rope_dims:
            length = x.shape[1]
            rotary = (self.rotary_cos[:length], self.rotary_sin[:length])
        for block in self.blocks:
            x = block(x, key_bias, rotary)
        z = self.norm(x)[:, text.shape[1]:]
        if self.cfg.clip_code:
            z = z + torch.where(revealed, 0.0, self.code_out(tokens))
        return z + self.sentence_out(sentence) if self.cfg.global_text else z

    def neighbours(self, revealed: torch.Tensor) -> torch.Tensor:
        """(B, N, W) embeddings of revealed tokens (0 where hidden) -> a linear map of each window -r..r."""
        n, radius = revealed.shape[1], self.cfg.local_kernel // 2
        padded = F.pad(revealed, (0, 0, radius, radius))
        return self.local_mix(torch.cat([padded[:, k:k + n] for k in range(self.cfg.local_kernel)], dim=-1))

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
        """The null text states and an all-visible mask, batched like `text`."""
        batch = text.shape[0]
        return self.null_text.expand(batch, -1, -1), torch.ones(batch, text.shape[1], dtype=text.dtype)
