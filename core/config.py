"""Model configuration: plain dataclasses with presets, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

from t2a_edge.core.errors import T2AError


# Variants measured and dropped (train/EXPERIMENTS.md), by config part ("": the top level); a
# model.json may name them switched off.
RETIRED = {"backbone": ("local_kernel", "mask_noise", "clip_code"), "head": ("clip_noise_dim",), "": ("summary_token",)}


@dataclass
class CodecConfig:
    """Waveform <-> latent frames: an STFT-domain encoder and a Vocos-style decoder."""

    sample_rate: int = 16_000
    n_fft: int = 640  # 40 ms analysis window
    hop: int = 160  # 100 spectral frames per second
    downsample: int = 2  # spectral frames per latent frame: 50 latent frames per second
    latent_dim: int = 64
    encoder_width: int = 256
    encoder_layers: int = 4
    decoder_width: int = 384
    decoder_layers: int = 6
    kernel: int = 7
    griffin_lim_iterations: int = 4  # phase recovery after the decoder (core.phase)
    griffin_lim_momentum: float = 0.0  # 0: plain Griffin-Lim (models made before it existed); > 0: Fast Griffin-Lim

    @property
    def frame_samples(self) -> int:
        return self.hop * self.downsample

    @property
    def latent_rate(self) -> float:
        return self.sample_rate / self.frame_samples


@dataclass
class BackboneConfig:
    """Bidirectional transformer over [text states ; latent tokens]."""

    width: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384
    text_tokens: int = 32  # captions are padded or cut to this many word pieces
    # Also feed the caption's mean-pooled sentence embedding to every latent position (input and
    # output): a direct text path. Off for models trained before it existed (their configs lack it).
    global_text: bool = False
    # Channels of each attention head's queries and keys turned by rotary position embedding over
    # the latent tokens; 0 (models trained before it) leaves position to the learned embedding alone.
    rope_dims: int = 0
    # MAR's inputs (models before it: off): token + position layer-normalised and the position added
    # again to the output, padding hidden from attention, the clip's length as a condition, and a
    # one-position null caption, so a caption prefix cut to its own length trains what generation runs.
    mar_inputs: bool = False


@dataclass
class HeadConfig:
    """The per-token heads: the teacher's diffusion MLP and the student's energy-score MLP."""

    width: int = 384
    depth: int = 3
    noise_dim: int = 64  # energy head: eps ~ U[-0.5, 0.5]^noise_dim
    diffusion_steps: int = 1000  # teacher: training timesteps of the cosine schedule
    # Teacher: noise draws per token per training step. MAR uses 4; here the head costs as much as
    # the backbone per draw, so 2 buys ~1.4x more steps in the same CPU time.
    diffusion_batch_mul: int = 2


@dataclass
class ModelConfig:
    """Everything that fixes tensor shapes of a trained model."""

    codec: CodecConfig = field(default_factory=CodecConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    patch: int = 2  # latent frames per token: 50 Hz latents -> 25 tokens per second
    max_seconds: float = 10.0
    caption_dropout: float = 0.1  # share of training captions replaced by the null text (CFG)
    # Token channel c = normalised latent c * (PCA std of component c) ** power, rescaled to unit mean
    # variance. 0 keeps the codec's whitened latents, where the loudness/envelope component (std 48
    # here) weighs no more in the losses than spectral detail (std 1.2); 0.5 weighs it ~6x more.
    token_pca_power: float = 0.0

    @property
    def token_dim(self) -> int:
        return self.codec.latent_dim * self.patch

    @property
    def token_rate(self) -> float:
        return self.codec.latent_rate / self.patch

    @property
    def token_samples(self) -> int:
        return self.codec.frame_samples * self.patch

    @property
    def max_tokens(self) -> int:
        return self.tokens_for(self.max_seconds)

    def tokens_for(self, seconds: float) -> int:
        """Positions a generation of `seconds` fills: the latent tokens that cover it (rounded up),
        """
        import math

        return max(1, math.ceil(seconds * self.codec.sample_rate / self.token_samples - 1e-9))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict, where: str = "model config") -> "ModelConfig":
        """The config of a saved model, checked field by field before anything is built from it:
        types, ranges, sizes and the divisibility the modules need (check_config). `where` names
        the file it came from in the one-line error."""
        if not isinstance(data, dict):
            raise T2AError(f"{where}: the config is {type(data).__name__}, not a table of settings")
        data = dict(data)
        parts = {}
        for name, part in (("codec", CodecConfig), ("backbone", BackboneConfig), ("head", HeadConfig)):
            values = data.pop(name, {})
            if not isinstance(values, dict):
                raise T2AError(f"{where}: '{name}' is {type(values).__name__}, not a table of settings")
            parts[name] = _checked_fields(part, _without_retired(values, RETIRED.get(name, ()), name + ".", where),
                                          name + ".", where)
        top = _checked_fields(cls, _without_retired(data, RETIRED[""], "", where), "", where)
        config = cls(codec=CodecConfig(**parts["codec"]), backbone=BackboneConfig(**parts["backbone"]),
                     head=HeadConfig(**parts["head"]), **top)
        check_config(config, where)
        return config


# Inclusive bounds of a saved config's numbers. Far above any model this project trains (the
# default: width 256, depth 8), they keep a damaged or hostile model.json from asking for terabytes:
# a field not listed here is an int in [0, 1e6] or a finite float in [0, 1e6].
LIMITS = {
    "codec.sample_rate": (1_000, 192_000), "codec.n_fft": (8, 16_384), "codec.hop": (1, 8_192),
    "codec.downsample": (1, 64), "codec.latent_dim": (1, 4_096), "codec.encoder_width": (1, 8_192),
    "codec.encoder_layers": (0, 64), "codec.decoder_width": (1, 8_192), "codec.decoder_layers": (0, 64),
    "codec.kernel": (1, 63), "codec.griffin_lim_iterations": (0, 1_000), "codec.griffin_lim_momentum": (0.0, 1.0),
    "backbone.width": (1, 8_192), "backbone.depth": (1, 128), "backbone.heads": (1, 256),
    "backbone.mlp_ratio": (0.0625, 16.0), "backbone.text_dim": (1, 4_096), "backbone.text_tokens": (2, 512),
    "backbone.rope_dims": (0, 8_192),
    "head.width": (1, 8_192), "head.depth": (1, 64), "head.noise_dim": (0, 4_096),
    "head.diffusion_steps": (1, 100_000), "head.diffusion_batch_mul": (1, 64),
    "patch": (1, 64), "max_seconds": (0.01, 600.0), "caption_dropout": (0.0, 1.0), "token_pca_power": (0.0, 4.0),
}
DEFAULT_LIMIT = (0, 1_000_000)
# Weights a config may ask for (float32: 8 GB); the default model has about 12 million.
MAX_PARAMETERS = 2_000_000_000


def _without_retired(values: dict, retired: tuple[str, ...], prefix: str, where: str) -> dict:
    """`values` less the dropped variants it names switched off; one switched on is refused."""
    on = [prefix + name for name in retired if values.get(name)]
    if on:
        raise T2AError(f"{where}: the model uses {', '.join(on)}, dropped from t2a-edge (train/EXPERIMENTS.md keeps "
                       "its record): retrain it with this version")
    return {key: value for key, value in values.items() if key not in retired}


def _checked_fields(kind, values: dict, prefix: str, where: str) -> dict:
    """`values` for dataclass `kind`, each of its field's type and within LIMITS; unknown keys refused."""
    fields = {f.name: f for f in dataclasses.fields(kind) if f.init}
    nested = {"codec", "backbone", "head"} if kind is ModelConfig else set()
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key not in fields or key in nested:
            raise T2AError(f"{where}: unknown setting '{name}': this model needs another version of t2a-edge")
        default = fields[key].default
        if default is dataclasses.MISSING and fields[key].default_factory is not dataclasses.MISSING:
            default = fields[key].default_factory()
        if isinstance(default, bool):
            ok = isinstance(value, bool)
            expected = "true or false"
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
            expected = "a whole number"
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            expected = "a finite number"
        else:
            ok, expected = True, ""
        if not ok:
            raise T2AError(f"{where}: {name} must be {expected}, not {json.dumps(value)[:40]}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            low, high = LIMITS.get(name, DEFAULT_LIMIT)
            if not low <= value <= high:
                raise T2AError(f"{where}: {name} must be between {low:g} and {high:g}, not {value:g}")
    return dict(values)


def parameter_estimate(config: "ModelConfig") -> int:
    """Roughly the weights a config builds (within a factor of about 2): what is bounded before building."""
    c, b, h = config.codec, config.backbone, config.head
    bins = c.n_fft // 2 + 1
    codec = (bins * c.downsample * (2 * c.encoder_width + c.decoder_width + c.latent_dim)
             + (c.encoder_layers * c.encoder_width ** 2 + c.decoder_layers * c.decoder_width ** 2) * 8
             + c.kernel * (c.encoder_width + c.decoder_width + c.latent_dim * c.decoder_width))
    backbone = (b.depth * b.width ** 2 * (4 + 2 * b.mlp_ratio + 6) + b.text_tokens * (b.width + b.text_dim)
                + 3 * b.text_dim * b.width + 4 * b.width ** 2
                + config.max_tokens * b.width + 4 * config.token_dim * b.width)
    head = h.depth * h.width * (3 * h.width + 3 * b.width) + (h.noise_dim + 2 * config.token_dim + b.width) * h.width
    return int(codec + backbone + 2 * head)


def check_config(config: "ModelConfig", where: str = "model config") -> None:
    """What the modules need of a config beyond each field's type and range: one line naming the field."""
    c, b = config.codec, config.backbone
    if c.n_fft % (2 * c.hop):
        raise T2AError(f"{where}: codec.n_fft ({c.n_fft}) must be an even multiple of codec.hop ({c.hop})")
    if c.kernel % 2 == 0:
        raise T2AError(f"{where}: codec.kernel must be odd, not {c.kernel}")
    if b.width % b.heads:
        raise T2AError(f"{where}: backbone.heads ({b.heads}) must divide backbone.width ({b.width})")
    if b.rope_dims % 2 or b.rope_dims > b.width // b.heads:
        raise T2AError(f"{where}: backbone.rope_dims must be even and at most the head width "
                       f"{b.width // b.heads}, not {b.rope_dims}")
    if config.max_tokens > 100_000:
        raise T2AError(f"{where}: max_seconds {config.max_seconds:g} makes {config.max_tokens} tokens, "
                       "more than 100000")
    weights = parameter_estimate(config)
    if weights > MAX_PARAMETERS:
        raise T2AError(f"{where}: this config builds about {weights / 1e9:.0f} billion weights, more than "
                       f"{MAX_PARAMETERS / 1e9:.0f} billion: the sizes in it are damaged")


def preset(name: str) -> ModelConfig:
    """Named sizes: `tiny` for tests (seconds to train), `small` for the CPU-trained default."""
    if name == "small":
        # Fast Griffin-Lim, 2 iterations: the judge hears it as the 4 plain ones it replaced (train/EXPERIMENTS.md v40).
        return ModelConfig(codec=CodecConfig(griffin_lim_iterations=2, griffin_lim_momentum=0.99),
                           backbone=BackboneConfig(global_text=True, rope_dims=32, mar_inputs=True), token_pca_power=0.5)
    if name == "tiny":
        return ModelConfig(
            codec=CodecConfig(encoder_width=32, encoder_layers=1, decoder_width=32, decoder_layers=1,
                              latent_dim=8),
            backbone=BackboneConfig(width=32, depth=2, heads=2, text_tokens=16, global_text=True, rope_dims=8,
                                    mar_inputs=True),
            head=HeadConfig(width=32, depth=2, noise_dim=16),
            max_seconds=2.0,
            token_pca_power=0.5,
        )
    raise T2AError(f"unknown preset '{name}': choose tiny or small")


PRESETS = ("tiny", "small")
