"""The full-precision reference backend: the PyTorch modules themselves, on CPU or CUDA."""

from __future__ import annotations

import numpy as np
import torch

from t2a_edge.core.diffusion import Diffusion
from t2a_edge.core.masking import guidance_weights
from t2a_edge.core.model import DecoderGraph, StudentStep, T2AModel
from t2a_edge.core.phase import synthesize
from t2a_edge.core.text import TextEncoder


class TorchBackend:
    """Runs a T2AModel and the text encoder eagerly; the only backend that runs the teacher."""

    precision = "fp32"

    def __init__(self, model: T2AModel, device: str = "cpu", text_encoder: TextEncoder | None = None):
        self.device = torch.device(device)
        self.name = "cuda" if self.device.type == "cuda" else "torch"
        self.model = model.to(self.device).eval()
        self.config = model.cfg
        self.kind = model.kind
        self.text_encoder = (text_encoder or TextEncoder.pretrained()).to(self.device)
        self.student_step = StudentStep(model) if model.energy_head is not None else None
        self.decoder = DecoderGraph(model)
        self.diffusion = Diffusion(model.cfg.head.diffusion_steps)

    def _t(self, array) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(array), device=self.device)

    @torch.inference_mode()
    def encode_text(self, ids, mask):
        return self.text_encoder(self._t(ids), self._t(mask)).float().cpu().numpy()

    @torch.inference_mode()
    def step(self, text, text_mask, tokens, known, noise, cfg, temperature):
        out = self.student_step(self._t(text), self._t(text_mask), self._t(tokens), self._t(known),
                                self._t(noise), self._t(guidance_weights(float(cfg))), float(temperature))
        return out.cpu().numpy()

    @torch.inference_mode()
    def teacher_step(self, text, text_mask, tokens, known, targets, noise, cfg, temperature, steps):
        """Guided backbone, then `steps` of diffusion sampling for the target positions only."""
        model = self.model
        z = model.backbone(*self._cfg_batch(text, text_mask, tokens, known))
        rows = torch.arange(z.shape[0] // 2, device=self.device)[:, None]
        targets = self._t(targets)
        z_cond, z_uncond = z.chunk(2)
        z_pair = torch.cat([z_cond[rows, targets], z_uncond[rows, targets]])

        def guided_eps(x, t):
            eps_cond, eps_uncond = model.diffusion_head(torch.cat([x, x]), torch.cat([t, t]), z_pair).chunk(2)
            return eps_uncond + cfg * (eps_cond - eps_uncond)

        shape = tuple(targets.shape) + (model.cfg.token_dim,)
        x = self.diffusion.sample(guided_eps, shape, self._t(noise), steps, temperature)
        return x.cpu().numpy()

    def _cfg_batch(self, text, text_mask, tokens, known):
        text, text_mask = self._t(text), self._t(text_mask)
        null, null_mask = self.model.backbone.null_like(text)
        tokens, known = self._t(tokens), self._t(known)
        return (torch.cat([text, null]), torch.cat([text_mask, null_mask.to(self.device)]),
                torch.cat([tokens, tokens]), torch.cat([known, known]))

    @torch.inference_mode()
    def decode(self, tokens):
        return self.decoder(self._t(tokens)).cpu().numpy()

    @torch.inference_mode()
    def encode_tokens(self, samples: np.ndarray) -> np.ndarray:
        """A waveform's latent tokens (N, token_dim): the sequence a generation would have produced,
        less a summary position."""
        wave = self._t(np.asarray(samples, np.float32))[None]
        return self.model.tokens_from_latents(self.model.codec.encode(wave))[0].cpu().numpy()

    @torch.inference_mode()
    def codec_roundtrip(self, samples: np.ndarray) -> np.ndarray:
        """Encode and decode a waveform (the codec's ceiling); same length out as in."""
        wave = self._t(np.asarray(samples, np.float32))[None]
        magnitude = self.model.codec.decode(self.model.codec.encode(wave))
        return synthesize(magnitude.cpu().numpy(), self.config.codec)[0, : len(samples)]
