"""The three training stages as loss modules: codec, teacher (diffusion head), student (energy head)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.config import ModelConfig
from t2a_edge.core.diffusion import Diffusion
from t2a_edge.core.errors import T2AError
from t2a_edge.core.heads import clip_energy_score_loss, diffusion_loss, energy_score_loss
from t2a_edge.core.masking import training_mask
from t2a_edge.core.model import T2AModel, load_model, save_model
from t2a_edge.core.model_files import read_model_meta
from t2a_edge.core.phase import phase_recovery
from t2a_edge.core.paths import default_model_dir
from t2a_edge.train.losses import MultiResolutionSTFTLoss, SpectrogramLoss, kl_divergence


SUMMARY_WEIGHT = 16.0  # the summary position's loss weight, in tokens


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
    # Student: weight of the energy score's repulsion term ||x1 - x2||. 1 is the proper score; below
    # 1 the head is paid less for spread, so it learns a sharper distribution than the data's, above
    # 1 a wider one. Capped at 1.4 (train_cmd): from about sqrt(2) a spread-out head's score has no
    # floor, since two independent draws can lie sqrt(2) times as far apart as each from the target.
    energy_tau: float = 1.0
    init: str = ""  # codec run (teacher stage) or teacher run (student stage)
    # Teacher/student: whether the silence that pads a clip shorter than its batch is a target.
    # It is 30% of all tokens on this corpus, and a model taught to predict it learns that any
    # position is likely silent (one-step samples came out mostly silence with loud bursts).
    loss_on_padding: bool = True
    # Teacher/student: share of examples with every token hidden, on top of MAR's ratio (which hides
    # all of a 125-token clip in about 17% of examples). A one-step student only ever generates from
    # that state: all it has is the text.
    full_mask_share: float = 0.0
    # Teacher/student: how many tokens an example hides (core.masking.training_mask): MAR's
    # truncated normal on [0.7, 1], or the cosine schedule the sampler follows ("cosine").
    mask_schedule: str = "mar"
    # Student: noise channels drawn once per clip and shared by its positions (the head's
    # clip_noise_dim), and the weight of the whole-clip energy score that rewards using them.
    clip_noise: int = 0
    clip_energy_weight: float = 0.0
    # Teacher/student: share of examples captioned by any clip of their category (TokenBank.batch).
    category_captions: float = 0.0
    # Teacher/student: dropout on the backbone's attention and MLP outputs while training, against
    # over-fitting 1,100 clips (the teacher's caption helps on training clips only: README).
    dropout: float = 0.0
    # Teacher: the backbone's rotary position channels per head and its window of revealed
    # neighbours (core.config.BackboneConfig); a student takes its teacher's backbone as it is.
    rope_dims: int = 0
    local_kernel: int = 0
    # Teacher: latent frames per token (core.config.ModelConfig.patch). A student samples every
    # token on its own at K = 1, so a token is the longest stretch of sound it keeps whole.
    patch: int = ModelConfig.patch
    # Teacher: diffusion timesteps drawn as T * u^(1 / power), u uniform: 1 is MAR's uniform draw,
    # 2 a density rising linearly with t. Only at high noise must the backbone's state carry the
    # caption and context (at low noise the noisy token itself gives the answer), and the student
    # takes nothing from the teacher but that state.
    timestep_power: float = 1.0
    # Teacher: width of the per-token heads (0: the preset's, 384 for small). MAR's diffusion MLP is
    # 1024 wide for 16-number tokens; here a token has 128 numbers. The student takes its teacher's.
    head_width: int = 0
    # Teacher/student: each training clip encoded at this many sub-token offsets, one drawn per
    # example (data.TokenBank), for more distinct token sequences from the same clips.
    shift_views: int = 1
    # Teacher: lead every token sequence with a summary position, the mean of the clip's tokens
    # (core.config.ModelConfig.summary_token). Teacher/student: share of examples that reveal the
    # summary and hide every token, the state of a two-step generation's second step.
    summary_token: bool = False
    summary_share: float = 0.0
    # Student: Gaussian noise in the backbone's hidden positions (core.config.BackboneConfig.mask_noise),
    # each of the energy score's two samples with its own draw.
    mask_noise: bool = False
    # Student: a clip code in the backbone's hidden positions (core.config.BackboneConfig.clip_code),
    # and the weight of its KL term, in nats per clip, beside the per-token energy score.
    clip_code: bool = False
    clip_code_kl: float = 0.001
    # Student: share of examples whose targets are the teacher's own draws for their caption (K =
    # draw_steps, guided on ε with draw_cfg) instead of a clip's tokens, draws_per_caption of them per
    # caption (train.teacher_draws): the student's guidance does not sharpen its draws, the teacher's does.
    teacher_draws: float = 0.0
    draws_per_caption: int = 2
    draw_cfg: float = 3.0
    draw_steps: int = 1
    # Any stage: decay of an exponential moving average of the trainable weights, which the run exports
    # instead of the last step's (train.ema); 0 exports the last step's, as runs before the option.
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
    return text, text_mask, batch["tokens"], 1.0 - batch["mask"]


class TeacherLoss(nn.Module):
    """MAR diffusion loss on masked positions, diffusion_batch_mul noise draws per token."""

    def __init__(self, model: T2AModel, settings: Settings):
        super().__init__()
        self.backbone, self.head = model.backbone, model.diffusion_head
        self.diffusion = Diffusion(model.cfg.head.diffusion_steps)

    def forward(self, batch: dict) -> dict:
        z = self.backbone(*masked_inputs(batch, self.backbone))
        mul = batch["t"].shape[1]
        x0 = batch["tokens"].repeat(mul, 1, 1)
        t = batch["t"].transpose(0, 1).reshape(-1, 1).expand(-1, x0.shape[1])  # one t per token row
        noise = batch["noise"]
        x_t = self.diffusion.add_noise(x0, t, noise)
        eps = self.head(x_t, t, z.repeat(mul, 1, 1))
        loss = diffusion_loss(eps, noise, batch["loss_mask"].repeat(mul, 1))
        return {"loss": loss, "diffusion": loss}


class StudentLoss(nn.Module):
    """Energy score (2 samples, alpha = 1, repulsion tau) + lambda * MSE to the frozen teacher's final hidden states,
    plus, if weighted, the energy score of whole clips."""

    def __init__(self, model: T2AModel, teacher_backbone: nn.Module, settings: Settings):
        super().__init__()
        self.backbone, self.head = model.backbone, model.energy_head
        self.teacher = teacher_backbone.eval().requires_grad_(False)
        self.distill_weight = settings.distill_weight
        self.clip_energy_weight = settings.clip_energy_weight
        self.clip_code_kl = settings.clip_code_kl
        self.tau = settings.energy_tau

    def forward(self, batch: dict) -> dict:
        inputs = masked_inputs(batch, self.backbone)
        with torch.no_grad():
            z_teacher = self.teacher(*inputs)
        extra = {}
        if self.backbone.cfg.clip_code:
            # One code per clip from the posterior over its own tokens, at every hidden position; both
            # samples share it, so the energy score fits the tokens' distribution given the code.
            text, text_mask, tokens, known = inputs
            mean, logvar = self.backbone.clip_encoder(batch["tokens"], batch["valid"])
            code = mean + torch.exp(0.5 * logvar) * batch["c_eps"]
            z1 = z2 = self.backbone(text, text_mask, torch.where(known[..., None] > 0.5, tokens, code), known)
            # Distilled without the code's direct path: the teacher has no code, and its states must
            # not pull that path to zero.
            direct = torch.where(known[..., None] > 0.5, 0.0, self.backbone.code_out(code))
            distill = F.mse_loss(z1 - direct, z_teacher)
            extra["clip_kl"] = kl_divergence(mean, logvar) * mean.shape[-1]
        elif self.backbone.cfg.mask_noise:
            # Two samples need two backbone draws: one batch of 2B rows, hidden tokens replaced by noise.
            text, text_mask, tokens, known = inputs
            draws = [torch.where(known[..., None] > 0.5, tokens, batch[name]) for name in ("g1", "g2")]
            z1, z2 = self.backbone(text.repeat(2, 1, 1), text_mask.repeat(2, 1), torch.cat(draws),
                                   known.repeat(2, 1)).chunk(2)
            distill = 0.5 * (F.mse_loss(z1, z_teacher) + F.mse_loss(z2, z_teacher))
        else:
            z1 = z2 = self.backbone(*inputs)
            distill = F.mse_loss(z1, z_teacher)
        x1, x2 = self.head(z1, batch["u1"]), self.head(z2, batch["u2"])
        energy = energy_score_loss(x1, x2, batch["tokens"], batch["loss_mask"], tau=self.tau)
        losses = {"loss": energy + self.distill_weight * distill, "energy": energy, "distill": distill}
        if extra:
            losses.update(loss=losses["loss"] + self.clip_code_kl * extra["clip_kl"], **extra)
        if self.clip_energy_weight:
            clip = clip_energy_score_loss(x1, x2, batch["tokens"], batch["loss_mask"], tau=self.tau)
            losses.update(loss=losses["loss"] + self.clip_energy_weight * clip, clip_energy=clip)
        return losses


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
    if settings.summary_share and not (settings.summary_token or source.cfg.summary_token and settings.stage == "student"):
        raise T2AError("--summary-share needs a summary position: --summary-token in the teacher")
    if settings.stage == "teacher":
        if (settings.mask_noise or settings.clip_noise or settings.clip_energy_weight or settings.teacher_draws
                or settings.clip_code or settings.energy_tau != 1.0):
            raise T2AError("--mask-noise, --clip-code, --clip-noise, --clip-energy-weight, --energy-tau and "
                           "--teacher-draws are student settings")
        # The backbone and heads come from the preset; only the codec's shape comes from --init.
        backbone = dataclasses.replace(cfg.backbone, rope_dims=settings.rope_dims, local_kernel=settings.local_kernel)
        head = dataclasses.replace(cfg.head, width=settings.head_width) if settings.head_width else cfg.head
        cfg = dataclasses.replace(cfg, codec=source.cfg.codec, backbone=backbone, head=head, patch=settings.patch,
                                  summary_token=settings.summary_token)
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
        if settings.teacher_draws and source.cfg.summary_token:
            raise T2AError("--teacher-draws needs a teacher without a summary position")
        if (settings.rope_dims or settings.local_kernel or settings.patch != Settings.patch
                or settings.timestep_power != Settings.timestep_power or settings.summary_token or settings.head_width):
            raise T2AError("--rope-dims, --local-kernel, --patch, --timestep-power, --summary-token and --head-width "
                           "are teacher settings: a student keeps its teacher's backbone, tokens and head width")
        if settings.mask_noise and settings.clip_code:
            raise T2AError("--mask-noise and --clip-code both fill the hidden positions' input: choose one")
        head = source.cfg.head
        if not 0 <= settings.clip_noise <= head.noise_dim:
            raise T2AError(f"--clip-noise {settings.clip_noise}: the head has {head.noise_dim} noise channels")
        cfg = dataclasses.replace(source.cfg, head=dataclasses.replace(head, clip_noise_dim=settings.clip_noise),
                                  backbone=dataclasses.replace(source.cfg.backbone, mask_noise=settings.mask_noise,
                                                               clip_code=settings.clip_code))
        model = T2AModel(cfg, diffusion_head=False, energy_head=True)
        model.codec.load_state_dict(source.codec.state_dict())
        # Everything but the noise projection and clip encoder, new in a student with mask noise or a code.
        missing, unexpected = model.backbone.load_state_dict(source.backbone.state_dict(), strict=False)
        if unexpected or any(not key.startswith(("noise_proj.", "clip_encoder.", "code_out.")) for key in missing):
            raise T2AError(f"{init}: its backbone does not match this version of t2a-edge")
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
    batch = data.batch(rng, b, category_share=settings.category_captions, draw_share=settings.teacher_draws)
    n = batch["tokens"].shape[1]
    batch["mask"] = training_mask(b, n, gen, settings.full_mask_share, settings.mask_schedule)  # hidden from the backbone
    if settings.summary_share:  # drawn only when asked for, so runs without it keep their stream
        second_step = torch.rand(b, generator=gen) < settings.summary_share
        batch["mask"][second_step] = 1.0
        batch["mask"][second_step, 0] = 0.0
    # Scored: the hidden positions, less the padding unless the run trains on it.
    batch["loss_mask"] = batch["mask"] if settings.loss_on_padding else batch["mask"] * batch["valid"]
    if cfg.summary_token:
        # One position against a clip's hundred tokens: weighted up so the first draw, which picks
        # the clip's sound, is not a rounding error in the loss.
        weight = torch.ones(n)
        weight[0] = SUMMARY_WEIGHT
        batch["loss_mask"] = batch["loss_mask"] * weight  # a new tensor: loss_mask may be the mask itself
    batch["drop"] = torch.rand(b, generator=gen) < cfg.caption_dropout
    if settings.stage == "teacher":
        mul = cfg.head.diffusion_batch_mul
        steps = cfg.head.diffusion_steps
        if settings.timestep_power == 1.0:  # MAR's draw, the same random stream as runs before the option
            batch["t"] = torch.randint(0, steps, (b, mul), generator=gen)
        else:
            u = torch.rand(b, mul, generator=gen)
            batch["t"] = (steps * u ** (1.0 / settings.timestep_power)).long().clamp(max=steps - 1)
        batch["noise"] = torch.randn(b * mul, n, cfg.token_dim, generator=gen)
    else:
        shape = (b, n, cfg.head.noise_dim)
        batch["u1"] = torch.rand(shape, generator=gen) - 0.5
        batch["u2"] = torch.rand(shape, generator=gen) - 0.5
        clip = cfg.head.clip_noise_dim
        if clip:  # drawn after the per-token noise, so runs without it keep their random stream
            for name in ("u1", "u2"):
                batch[name][..., :clip] = torch.rand(b, 1, clip, generator=gen) - 0.5
        if cfg.backbone.mask_noise:  # drawn last, so runs without it keep their random stream
            batch["g1"] = torch.randn(b, n, cfg.token_dim, generator=gen)
            batch["g2"] = torch.randn(b, n, cfg.token_dim, generator=gen)
        if cfg.backbone.clip_code:  # drawn last, so runs without it keep their random stream
            batch["c_eps"] = torch.randn(b, 1, cfg.token_dim, generator=gen)
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
