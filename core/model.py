"""The text-to-audio model: codec, backbone and heads; its one-iteration step; weights on disk."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from t2a_edge.core.backbone import Backbone
from t2a_edge.core.codec import Codec
from t2a_edge.core.config import ModelConfig
from t2a_edge.core.errors import T2AError
from t2a_edge.core.heads import DiffusionHead, EnergyHead
from t2a_edge.core.model_files import FORMAT_VERSION, MODEL_FILE, read_model_meta, sha256_file, verify_model_files

SHARD_BYTES = 20 * 2**20  # keep every weight file well under 25 MB


class T2AModel(nn.Module):
    """All trainable parts; a stage uses the ones it needs (heads may be absent)."""

    def __init__(self, cfg: ModelConfig, diffusion_head: bool = True, energy_head: bool = True):
        super().__init__()
        self.cfg = cfg
        self.codec = Codec(cfg.codec)
        self.backbone = Backbone(cfg.backbone, cfg.token_dim, cfg.max_tokens)
        h = cfg.head
        self.diffusion_head = DiffusionHead(cfg.token_dim, cfg.backbone.width, h.width, h.depth) if diffusion_head else None
        self.energy_head = (EnergyHead(cfg.token_dim, cfg.backbone.width, h.width, h.depth, h.noise_dim)
                            if energy_head else None)
        if cfg.token_pca_power:
            self.register_buffer("token_scale", torch.ones(cfg.codec.latent_dim))

    def fit_token_scale(self) -> None:
        """Set the per-channel token scale from the codec's PCA (call once the codec is trained)."""
        if not self.cfg.token_pca_power:
            return
        spread = self.codec.decoder.pca.basis.norm(dim=1)  # std of each PCA component in log-magnitude units
        if not bool((spread > 0).all()):
            raise ValueError("fit the codec's PCA before the token scale")
        scale = spread ** self.cfg.token_pca_power
        self.token_scale.copy_(scale / scale.pow(2).mean().sqrt())

    @property
    def kind(self) -> str:
        if self.energy_head is not None:
            return "student"
        return "teacher" if self.diffusion_head is not None else "codec"

    def tokens_from_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim, frames) -> (B, frames / patch, latent_dim * patch)."""
        b, d, t = latents.shape
        p = self.cfg.patch
        if self.cfg.token_pca_power:
            latents = latents * self.token_scale[:, None]
        return latents[..., : t - t % p].reshape(b, d, t // p, p).permute(0, 2, 1, 3).reshape(b, t // p, d * p)

    def latents_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, latent_dim * patch) -> (B, latent_dim, N * patch)."""
        b, n, _ = tokens.shape
        d, p = self.cfg.codec.latent_dim, self.cfg.patch
        latents = tokens.reshape(b, n, d, p).permute(0, 2, 1, 3).reshape(b, d, n * p)
        return latents / self.token_scale[:, None] if self.cfg.token_pca_power else latents

    def condition(self, text: torch.Tensor, text_mask: torch.Tensor, tokens: torch.Tensor, known: torch.Tensor,
                  guidance: torch.Tensor) -> torch.Tensor:
        """Backbone on the conditional rows, and the unconditional ones if `guidance` has two weights
        (core.masking.guidance_weights), in one batch; returns the weighted sum of the rows' states.

        The row count follows the length of `guidance`, not control flow, so one exported graph
        serves both: [1] runs B rows, [cfg, 1 - cfg] runs 2B rows and mixes cfg * z_c + (1 - cfg) * z_u.
        """
        rows, batch = guidance.shape[0], text.shape[0]
        null, null_mask = self.backbone.null_like(text)
        text_rows = torch.stack([text, null])[:rows].flatten(0, 1)
        mask_rows = torch.stack([text_mask.to(text.dtype), null_mask])[:rows].flatten(0, 1)
        tokens_rows = tokens.unsqueeze(0).expand(rows, -1, -1, -1).flatten(0, 1)
        known_rows = known.unsqueeze(0).expand(rows, -1, -1).flatten(0, 1)
        z = self.backbone(text_rows, mask_rows, tokens_rows, known_rows).unflatten(0, (rows, batch))
        return (guidance.to(z.dtype)[:, None, None, None] * z).sum(0)


class StudentStep(nn.Module):
    """One generation iteration of the student: guided backbone + energy head at every position.

    This is the graph every edge runtime runs K times; the loop around it lives in numpy.
    """

    def __init__(self, model: T2AModel):
        super().__init__()
        self.model = model

    def forward(self, text, text_mask, tokens, known, noise, guidance, temperature):
        z = self.model.condition(text, text_mask, tokens, known, guidance)
        return self.model.energy_head(z, noise, temperature)


class DecoderGraph(nn.Module):
    """Tokens -> STFT magnitudes: unpatch, de-normalise, decode (the `decoder` component of a bundle).

    The waveform comes after the graph, from core.phase (the same numpy Griffin-Lim for every backend).
    """

    def __init__(self, model: T2AModel):
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.codec.decode(self.model.latents_from_tokens(tokens))


def save_model(model: T2AModel, folder: str | Path, extra: dict | None = None, dtype=torch.float32) -> Path:
    """Write safetensors shards and model.json (config, kind, sha256 per file); atomic per file."""
    from t2a_edge.core.audio import atomic_write_bytes
    from t2a_edge.core.tensor_files import save_tensors

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in model.state_dict().items()}
    shards, current, size = [], {}, 0
    for name in sorted(state):
        nbytes = state[name].numel() * state[name].element_size()
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[name] = state[name]
        size += nbytes
    shards.append(current)
    files = {}
    for i, shard in enumerate(shards):
        name = f"weights-{i:02d}.safetensors"
        atomic_write_bytes(folder / name, lambda tmp, shard=shard: save_tensors(shard, tmp))
        files[name] = sha256_file(folder / name)
    for stale in folder.glob("weights-*.safetensors"):
        if stale.name not in files:
            stale.unlink()
    meta = {"format": FORMAT_VERSION, "kind": model.kind, "config": model.cfg.to_dict(), "files": files,
            "parts": {"diffusion_head": model.diffusion_head is not None, "energy_head": model.energy_head is not None}}
    meta.update(extra or {})
    atomic_write_bytes(folder / MODEL_FILE, lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return folder


def load_model(folder: str | Path, device: str = "cpu") -> T2AModel:
    """Build the model from model.json and load its shards, verifying every sha256 first."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = read_model_meta(folder)  # config and file names checked before anything is read or built
    if "config" not in meta or not meta.get("files"):
        raise T2AError(f"{folder / MODEL_FILE} lists no config or no weight files: not a saved model")
    config = ModelConfig.from_dict(meta["config"], str(folder / MODEL_FILE))
    state = {}
    verify_model_files(folder, meta)
    for name in meta["files"]:
        path = folder / name
        try:
            state.update(load_file(str(path)))
        except Exception as exc:  # safetensors raises its own error types
            raise T2AError(f"model file {path} is unreadable: {exc}") from None
    parts = meta.get("parts", {})
    model = T2AModel(config, parts.get("diffusion_head", True),
                     parts.get("energy_head", False))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise T2AError(f"weights in {folder} do not match its config: {str(exc).splitlines()[0]}") from None
    return model.to(device).eval()
