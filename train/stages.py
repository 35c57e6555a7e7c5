"""The three training stages as loss modules: codec, teacher (diffusion head), student (energy head)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from t2a_edge.core.config import ModelConfig
from t2a_edge.core.diffusion import Diffusion
from t2a_edge.core.errors import T2AError
from t2a_edge.core.heads import diffusion_loss, energy_score_loss
from t2a_edge.core.masking import training_mask
from t2a_edge.core.model import T2AModel, load_model, save_model
from t2a_edge.core.model_files import read_model_meta
from t2a_edge.core.phase import phase_recovery
from t2a_edge.core.paths import default_model_dir
from t2a_edge.train.losses import MultiResolutionSTFTLoss, SpectrogramLoss, kl_divergence


PRECISIONS = ("auto", "bf16", "fp32")


@dataclass
class Settings:
    """Everything that defines a run; stored in every checkpoint, authoritative on resume."""

    stage: str
    preset: str = "small"
    steps: int = 1000
    batch: int = 16
    lr: float = 3e-4
    seed: int = 0
    crop_seconds: float = 1.0  # codec
    # Codec: spectral frames (10 ms each) per latent frame, so with the teacher's patch it sets how
    # much sound one token holds, and the PCA components (latent channels) per latent frame that
    # hold it. None: the preset's.
    downsample: int | None = None
    latent_dim: int | None = None
    kl_weight: float = 1e-4  # codec
    distill_weight: float = 100.0  # student: lambda of the representation distillation term
    head_lr_mult: float = 0.25  # student: EAR's learning-rate multiplier for the energy head
    init: str = ""  # codec run (teacher stage) or teacher run (student stage)
    # Teacher/student: whether the silence that pads a clip shorter than its batch is a target. It
    # was 30% of all tokens before length buckets, and a model taught to predict it learns that any
    # position is likely silent.
    loss_on_padding: bool = False
    # Teacher/student: share of examples with every token hidden, on top of the mask schedule's.
    # A one-step student only ever generates from that state: all it has is the text.
    full_mask_share: float = 0.0
    # Teacher/student: how many tokens an example hides (core.masking.training_mask): "cosine", the
    # share the sampler's schedule visits at a uniform step (every ratio a K-step sampler meets), or
    # MAR's truncated normal on [0.7, 1] ("mar").
    mask_schedule: str = "cosine"
    # Teacher/student: share of examples captioned by any clip of their category (TokenBank.batch).
    category_captions: float = 0.0
    # Teacher/student: dropout on the backbone's attention and MLP outputs while training, against
    # over-fitting 1,100 clips.
    dropout: float = 0.0
    # Teacher: the backbone's rotary position channels per head (core.config.BackboneConfig); None:
    # the preset's. A student takes its teacher's backbone as it is.
    rope_dims: int | None = None
    # Teacher: latent frames per token (core.config.ModelConfig.patch).
    patch: int = ModelConfig.patch
    # Teacher: width of the per-token heads (0: the preset's, 384 for small). The student takes its teacher's.
    head_width: int = 0
    # Teacher/student: batches of clips of about one length (TokenBank.batch), so little of a batch
    # is padding; off: the first clip's length sets the batch's, as runs before it.
    length_buckets: bool = True
    # Arithmetic of the forward pass: "bf16" autocast where the machine has it, "fp32" otherwise;
    # "auto" is decided when the run starts (train.loop) and stored as what it chose.
    precision: str = "auto"
    # Any stage: decay of an exponential moving average of the trainable weights, which the run exports
    # instead of the last step's (train.ema); 0 exports the last step's.
    ema: float = 0.0
    checkpoint_every: int = 500
    log_every: int = 10


class CodecLoss(nn.Module):
    """Reconstruct random crops through the KL bottleneck.

    Terms: spectrogram (spectral convergence + log-magnitude L1) and log-mel L1 on the predicted
    magnitudes; multi-resolution STFT on the waveform the decoder synthesises with its Griffin-Lim
    phase (held fixed for the gradient), so the loss sees what a listener hears; kl_weight * KL.
    """

    def __init__(self, model: T2AModel, settings: Settings):
        super().__init__()
        self.codec = model.codec
        self.spectral_loss = SpectrogramLoss(model.cfg.codec)
        self.waveform_loss = MultiResolutionSTFTLoss()
        self.kl_weight = settings.kl_weight
        self.phase_recovery = phase_recovery(model.cfg.codec)

    def forward(self, batch: dict) -> dict:
        mean, logvar = self.codec.encoder(batch["wave"])
        z = mean + batch["eps"][..., : mean.shape[-1]] * torch.exp(0.5 * logvar)
        log_magnitude = self.codec.decoder.log_magnitude(z)
        stft, mel = self.spectral_loss(log_magnitude, batch["wave"])
        magnitude = torch.exp(log_magnitude)
        # The phase is held fixed: back-propagating through Griffin-Lim iterations cost 10x the step.
        unit = self.phase_recovery.phase(np.ascontiguousarray(magnitude.detach().transpose(1, 2).cpu().numpy()))  # (B, T, bins)
        cos = torch.from_numpy(np.ascontiguousarray(unit.real.transpose(0, 2, 1))).to(magnitude.device)
        sin = torch.from_numpy(np.ascontiguousarray(unit.imag.transpose(0, 2, 1))).to(magnitude.device)
        wave = self.codec.decoder.istft(magnitude * cos, magnitude * sin)
        mrstft = self.waveform_loss(wave, batch["wave"])
        kl = kl_divergence(mean, logvar)
        return {"loss": stft + mel + mrstft + self.kl_weight * kl, "stft": stft, "mel": mel, "mrstft": mrstft,
                "kl": kl}


def masked_inputs(batch: dict, backbone) -> tuple[torch.Tensor, ...]:
    """Replace dropped captions by the learned null text (for CFG) and hide masked tokens."""
    drop = batch["drop"][:, None, None]
    null, null_mask = backbone.null_like(batch["text"])
    text = torch.where(drop, null, batch["text"])
    text_mask = torch.where(drop[..., 0], null_mask, batch["text_mask"])
    return text, text_mask, batch["tokens"], 1.0 - batch["mask"], batch["valid"]


class TeacherLoss(nn.Module):
    """MAR diffusion loss on the scored positions only, diffusion_batch_mul noise draws per token,
    each with its own timestep."""

    def __init__(self, model: T2AModel, settings: Settings):
        super().__init__()
        self.backbone, self.head = model.backbone, model.diffusion_head
        self.diffusion = Diffusion(model.cfg.head.diffusion_steps)

    def forward(self, batch: dict) -> dict:
        z = self.backbone(*masked_inputs(batch, self.backbone))
        scored = batch["loss_mask"] > 0  # the head runs where the loss looks, nowhere else
        mul = batch["t"].shape[0]
        x0 = batch["tokens"][scored].expand(mul, -1, -1)  # (mul, M, D)
        t, noise = batch["t"][:, scored], batch["noise"][:, scored]  # (mul, M), (mul, M, D)
        x_t = self.diffusion.add_noise(x0, t, noise)
        eps = self.head(x_t.flatten(0, 1), t.flatten(), z[scored].repeat(mul, 1))
        loss = diffusion_loss(eps, noise.flatten(0, 1), batch["loss_mask"][scored].repeat(mul))
        return {"loss": loss, "diffusion": loss}


class StudentLoss(nn.Module):
    """Energy score (2 samples, alpha = 1) on the scored positions + lambda * MSE to the frozen
    teacher's final hidden states on the clip's own positions."""

    def __init__(self, model: T2AModel, teacher_backbone: nn.Module, settings: Settings):
        super().__init__()
        self.backbone, self.head = model.backbone, model.energy_head
        self.teacher = teacher_backbone.eval().requires_grad_(False)
        self.distill_weight = settings.distill_weight

    def forward(self, batch: dict) -> dict:
        inputs = masked_inputs(batch, self.backbone)
        with torch.no_grad():
            z_teacher = self.teacher(*inputs)
        z = self.backbone(*inputs)
        valid = batch["valid"]
        distill = ((z - z_teacher).pow(2).mean(-1) * valid).sum() / valid.sum().clamp_min(1.0)
        scored = batch["loss_mask"] > 0
        x1, x2 = self.head(z[scored], batch["u1"][scored]), self.head(z[scored], batch["u2"][scored])
        energy = energy_score_loss(x1, x2, batch["tokens"][scored], batch["loss_mask"][scored])
        return {"loss": energy + self.distill_weight * distill, "energy": energy, "distill": distill}


def build(settings: Settings, cfg: ModelConfig):
    """The model, its loss module and optimizer parameter groups for a stage."""
    if settings.stage == "codec":
        shape = {"downsample": settings.downsample, "latent_dim": settings.latent_dim}
        cfg = dataclasses.replace(cfg, codec=dataclasses.replace(
            cfg.codec, **{name: value for name, value in shape.items() if value is not None}))
        model = T2AModel(cfg, diffusion_head=False, energy_head=False)
        return model, CodecLoss(model, settings), [{"params": list(model.codec.parameters())}]
    if settings.downsample is not None or settings.latent_dim is not None:
        raise T2AError("--downsample and --latent-dim are codec settings: "
                       "the teacher and student keep the codec of --init")
    init = init_folder(settings)
    source = load_model(init)
    if settings.stage == "teacher":
        # The backbone and heads come from the preset; only the codec's shape comes from --init.
        backbone = cfg.backbone if settings.rope_dims is None else dataclasses.replace(cfg.backbone,
                                                                                       rope_dims=settings.rope_dims)
        head = dataclasses.replace(cfg.head, width=settings.head_width) if settings.head_width else cfg.head
        cfg = dataclasses.replace(cfg, codec=source.cfg.codec, backbone=backbone, head=head, patch=settings.patch)
        try:
            model = T2AModel(cfg, diffusion_head=True, energy_head=False)
        except ValueError as exc:  # a backbone option out of range for this preset
            raise T2AError(str(exc)) from None
        model.codec.load_state_dict(source.codec.state_dict())
        model.codec.requires_grad_(False)
        model.fit_token_scale()
        model.backbone.set_dropout(settings.dropout)
        params = list(model.backbone.parameters()) + list(model.diffusion_head.parameters())
        return model, TeacherLoss(model, settings), [{"params": params}]
    if settings.stage == "student":
        if source.diffusion_head is None:
            raise T2AError(f"{init} is not a teacher model: the student starts from a trained teacher")
        if settings.rope_dims is not None or settings.patch != Settings.patch or settings.head_width:
            raise T2AError("--rope-dims, --patch and --head-width are teacher settings: a student keeps its "
                           "teacher's backbone, tokens and head width")
        model = T2AModel(source.cfg, diffusion_head=False, energy_head=True)
        model.codec.load_state_dict(source.codec.state_dict())
        model.backbone.load_state_dict(source.backbone.state_dict())
        if source.cfg.token_pca_power:
            model.token_scale.copy_(source.token_scale)  # the student works in its teacher's token space
        model.codec.requires_grad_(False)
        model.backbone.set_dropout(settings.dropout)
        groups = [{"params": list(model.backbone.parameters())},
                  {"params": list(model.energy_head.parameters()), "lr_mult": settings.head_lr_mult}]
        return model, StudentLoss(model, source.backbone, settings), groups
    raise T2AError(f"unknown stage '{settings.stage}': choose codec, teacher or student")


def init_folder(settings: Settings) -> Path:
    need = {"teacher": "codec", "student": "teacher"}[settings.stage]
    if not settings.init:
        raise T2AError(f"the {settings.stage} stage starts from a trained {need}: pass --init RUN_DIR")
    path = default_model_dir() if settings.init == "default" else Path(settings.init)
    folder = path / "model" if (path / "model" / "model.json").is_file() else path
    kind = read_model_meta(folder).get("kind")
    # The teacher takes only the codec, which every model folder holds (a teacher or a student
    # too, e.g. the shipped default): a new teacher need not retrain a codec it already has.
    accepted = ("codec", "teacher", "student") if settings.stage == "teacher" else (need,)
    if kind not in accepted:
        raise T2AError(f"--init {path} is a {kind} model; the {settings.stage} stage needs a {need}")
    return folder


def prepare(settings: Settings, model: T2AModel, data) -> None:
    """One-off set-up that needs the data: the codec's PCA is fitted to a fixed subset of clips."""
    if settings.stage == "codec":
        model.codec.fit_pca(data.audio[:: max(1, len(data.audio) // 300)][:300])


def make_batch(settings: Settings, cfg: ModelConfig, data, rng: np.random.Generator, gen: torch.Generator) -> dict:
    """Draw one stage's batch from the data bank with the step's generators."""
    b = settings.batch
    if settings.stage == "codec":
        samples = int(settings.crop_seconds * cfg.codec.sample_rate) // cfg.codec.frame_samples * cfg.codec.frame_samples
        wave = data.crops(rng, b, samples)
        eps = torch.randn(b, cfg.codec.latent_dim, samples // cfg.codec.frame_samples, generator=gen)
        return {"wave": wave, "eps": eps}
    batch = data.batch(rng, b, category_share=settings.category_captions, buckets=settings.length_buckets)
    n = batch["tokens"].shape[1]
    batch["mask"] = training_mask(b, n, gen, settings.full_mask_share, settings.mask_schedule)  # hidden from the backbone
    # Scored: the hidden positions, less the padding unless the run trains on it.
    batch["loss_mask"] = batch["mask"] if settings.loss_on_padding else batch["mask"] * batch["valid"]
    batch["drop"] = torch.rand(b, generator=gen) < cfg.caption_dropout
    if settings.stage == "teacher":
        mul = cfg.head.diffusion_batch_mul
        batch["t"] = torch.randint(0, cfg.head.diffusion_steps, (mul, b, n), generator=gen)  # one per token, as MAR
        batch["noise"] = torch.randn(mul, b, n, cfg.token_dim, generator=gen)
    else:
        shape = (b, n, cfg.head.noise_dim)
        batch["u1"] = torch.rand(shape, generator=gen) - 0.5
        batch["u2"] = torch.rand(shape, generator=gen) - 0.5
    return batch


@torch.no_grad()
def export(settings: Settings, model: T2AModel, data, run_dir: Path, step: int) -> Path:
    """Write the run's usable model folder (run_dir/model); the codec first measures latent statistics."""
    kind = {"codec": "codec", "teacher": "teacher", "student": "student"}[settings.stage]
    if kind == "codec":
        set_latent_statistics(model, data)
    return save_model(model, Path(run_dir) / "model", extra={"kind": kind, "trained_steps": step,
                                                              "stage_settings": settings.__dict__})


def set_latent_statistics(model: T2AModel, data, clips: int = 128) -> None:
    """Per-channel mean and std of encoder means over a fixed subset of the training audio."""
    codec = model.codec.eval()
    chunks = []
    for wave in data.audio[:: max(1, len(data.audio) // clips)][:clips]:
        mean, _ = codec.encoder(codec.pad(torch.from_numpy(wave)[None]))
        chunks.append(mean[0].T)
    values = torch.cat(chunks)
    codec.latent_mean.copy_(values.mean(0))
    codec.latent_std.copy_(values.std(0).clamp_min(1e-3))
    codec.train()
