"""The three bundle components as exportable torch modules, their dynamic shapes and parity checks.

Every backend starts from the same `torch.export` programs built here:

- `text_encoder`: ids (B, L) int64, mask (B, L) int64 -> states (B, L, 384)
- `step`: StudentStep, the guided backbone + energy head for one iteration (CFG batched inside:
  `guidance` (G,) weighs G rows of the backbone, G = 2 guided, G = 1 at cfg 1)
- `decoder`: DecoderGraph, tokens (B, N, D) -> STFT magnitudes (B, bins, N * patch * downsample);
  the waveform comes from core.phase (numpy), the same for every backend

B (up to MAX_BATCH) and N (up to the model's max tokens) are dynamic; L is the model's fixed
caption length; G is dynamic (1 or 2) where the runtime allows (DYNAMIC_GUIDANCE). temperature
is a (1,) float32 tensor.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from t2a_edge.core.config import ModelConfig, preset
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model import DecoderGraph, StudentStep, T2AModel
from t2a_edge.core.text import TEXT_DIM, TextEncoder

COMPONENTS = ("text_encoder", "step", "decoder")
MAX_BATCH = 8  # largest batch one component call takes; the runtimes split bigger batches
# XNNPACK reshapes take one dynamic dimension, so ExecuTorch programs fix batch 1 (N stays dynamic).
BACKEND_MAX_BATCH = {"onnx": MAX_BATCH, "openvino": MAX_BATCH, "coreml": MAX_BATCH, "executorch": 1}
# Backbone row counts the step takes: one row (cfg 1) or two. ExecuTorch's would be a second
# dynamic dimension in the backbone's reshapes, so its programs fix the rows: its step file holds
# one method per row count (runtimes/executorch_backend.STEP_METHODS), sharing their weights.
GUIDANCE_ROWS = (1, 2)
DYNAMIC_GUIDANCE = {"onnx": True, "openvino": True, "coreml": True, "executorch": False}
# Attention written out as matmul, add and softmax where the runtime runs SDPA's decomposition
# outside its delegate: ExecuTorch's step (10 s, 1 thread) went from 82 to 46 ms in fp32 and from
# 61 to 23 ms in dynamic int8, its mask handling (expand, where, any) having run in portable kernels.
ATTENTION_AS_MATMULS = {"onnx": False, "openvino": False, "coreml": False, "executorch": True}
EXAMPLE_BATCH = 2  # torch.export specialises a dimension whose example size is 0 or 1


@dataclass
class Component:
    """One bundle component: the module, its input/output names and shapes."""

    name: str
    module: nn.Module
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    # input name -> {axis: "batch" | "tokens"}: which axes are dynamic
    dynamic: dict = field(default_factory=dict)

    def example(self, config: ModelConfig, batch: int = EXAMPLE_BATCH, tokens: int | None = None,
                seed: int = 0, guidance_rows: int = 2) -> dict[str, np.ndarray]:
        """Fixed random inputs of the given batch and token count (numpy, in input order)."""
        return sample_inputs(self.name, config, batch, tokens or min(config.max_tokens, 7), seed, guidance_rows)


def sample_inputs(name: str, config: ModelConfig, batch: int, tokens: int, seed: int = 0,
                  guidance_rows: int = 2) -> dict[str, np.ndarray]:
    """Deterministic random inputs for a component, shaped like real generation inputs (the step
    guided at cfg 3 with two rows, or unguided with one)."""
    rng = np.random.default_rng(seed)
    length = config.backbone.text_tokens
    if name == "text_encoder":
        ids = rng.integers(1000, 30000, (batch, length)).astype(np.int64)
        mask = np.zeros((batch, length), np.int64)
        for i in range(batch):
            mask[i, : rng.integers(3, length + 1)] = 1
        ids[:, 0] = 101  # [CLS]
        return {"ids": ids * mask, "mask": mask}
    if name == "step":
        text_mask = np.zeros((batch, length), np.float32)
        for i in range(batch):
            text_mask[i, : rng.integers(3, length + 1)] = 1
        return {
            "text": rng.standard_normal((batch, length, TEXT_DIM)).astype(np.float32) * 0.5,
            "text_mask": text_mask,
            "tokens": rng.standard_normal((batch, tokens, config.token_dim)).astype(np.float32),
            "known": (rng.random((batch, tokens)) < 0.5).astype(np.float32),
            "noise": rng.uniform(-0.5, 0.5, (batch, tokens, config.head.noise_dim)).astype(np.float32),
            "guidance": np.array([3.0, -2.0], np.float32) if guidance_rows == 2 else np.ones(1, np.float32),
            "temperature": np.array([0.7], np.float32),
        }
    if name == "decoder":
        return {"tokens": rng.standard_normal((batch, tokens, config.token_dim)).astype(np.float32)}
    raise ValueError(name)


def standard_strides(module: nn.Module) -> nn.Module:
    """Copy every buffer into a fresh tensor with standard strides (same values).

    A buffer made from a numpy view can carry a 0 stride on a size-1 axis, which ExecuTorch rejects.
    """
    for sub in module.modules():
        for key, buf in list(sub._buffers.items()):
            if buf is not None:
                sub._buffers[key] = torch.empty(buf.shape, dtype=buf.dtype).copy_(buf)
        # Derived constants (the iSTFT basis) become plain buffers: ExecuTorch's verifier rejects a
        # non-persistent buffer that ends up among a program's constants.
        sub._non_persistent_buffers_set.clear()
    return module


class ShiftedConv1d(nn.Module):
    """A dense stride-1 Conv1d as `kernel` shifted views and one matmul (the same sum, reordered).

    XNNPACK's lowering of a dense conv1d caps a dynamic length at about 20480 / in_channels
    (320 latent frames for 64 channels: 6.4 s, under the 10 s the model makes); a matmul has no cap.
    """

    def __init__(self, conv: nn.Conv1d):
        super().__init__()
        out_ch, in_ch, kernel = conv.weight.shape
        self.kernel, self.padding = kernel, conv.padding[0]
        # (out, kernel * in): column k * in + c multiplies channel c shifted by k.
        self.weight = nn.Parameter(conv.weight.detach().permute(0, 2, 1).reshape(out_ch, kernel * in_ch).clone())
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        padded = torch.nn.functional.pad(x, (self.padding, self.padding))
        stacked = torch.cat([padded[..., k:k + length] for k in range(self.kernel)], dim=1)  # (B, kernel*in, T)
        out = torch.matmul(self.weight, stacked)
        return out if self.bias is None else out + self.bias[:, None]


def fast_convs(module: nn.Module) -> nn.Module:
    """Swap dense, stride-1, same-length Conv1d layers for ShiftedConv1d (in place)."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if (type(child) is nn.Conv1d and child.groups == 1 and child.stride == (1,) and child.dilation == (1,)
                    and child.padding_mode == "zeros" and isinstance(child.padding, tuple)
                    and 2 * child.padding[0] == child.kernel_size[0] - 1):
                setattr(parent, name, ShiftedConv1d(child))
    return module


def input_projection_shapes(config: ModelConfig) -> set[tuple[int, int]]:
    """Weight shapes of the step's projections of its raw inputs (MiniLM states, tokens, the energy
    head's noise) and of the head's projection of the backbone state, which dynamic int8 leaves in fp32.

    Dynamic quantization gives each activation tensor one int8 scale, and MiniLM's states have a
    few outlier channels that then flatten the rest: on held-out prompts (at cfg 3) the default
    model's step error was 0.114 with the text and token projections in int8 and 0.012 with them in
    fp32, at the same speed. The noise projection feeds every AdaLN modulation of the head: at the
    model's own cfg 1 the step's held-out error was 0.115 with it in int8 and 0.069 in fp32. The
    head's projection of the backbone state z has outlier channels too: student v6's step measured
    0.226 with everything else in int8, 0.274 with that one matmul alone in int8, the next worst 0.036.
    Matched by weight shape (the exported graph names weights anonymously): where the backbone and
    head widths are equal (the tiny preset) the head's square matmuls stay fp32 as well, slower but
    never less accurate.
    """
    width = config.backbone.width
    return {(TEXT_DIM, width), (config.token_dim, width), (config.head.noise_dim, config.head.width),
            (width, config.head.width)}


def _slim(model: T2AModel, keep: tuple[str, ...]) -> T2AModel:
    """A copy of the model holding only the parts one component uses (the rest set to None)."""
    slim = copy.deepcopy(model).float().cpu().eval()
    for part in ("codec", "backbone", "diffusion_head", "energy_head"):
        if part not in keep:
            setattr(slim, part, None)
    if "codec" in keep:
        slim.codec.encoder = None  # training only
        fast_convs(slim.codec.decoder)
    return standard_strides(slim)


def components(model: T2AModel, text_encoder: TextEncoder | None = None) -> list[Component]:
    """The three components of a student model, on CPU in fp32, ready to export."""
    if model.energy_head is None:
        raise T2AError(f"bundles are for student models (energy head); this is a {model.kind} model: "
                       "distil a student first, or run a teacher with --backend torch")
    text_encoder = standard_strides(copy.deepcopy(text_encoder or TextEncoder.pretrained()).float().cpu().eval())
    batch = {0: "batch"}
    batch_tokens = {0: "batch", 1: "tokens"}
    return [
        Component("text_encoder", text_encoder, ("ids", "mask"), ("states",), {"ids": batch, "mask": batch}),
        Component("step", StudentStep(_slim(model, ("backbone", "energy_head"))).eval(),
                  ("text", "text_mask", "tokens", "known", "noise", "guidance", "temperature"), ("prediction",),
                  {"text": batch, "text_mask": batch, "tokens": batch_tokens, "known": batch_tokens,
                   "noise": batch_tokens, "guidance": {0: "guidance"}}),
        Component("decoder", DecoderGraph(_slim(model, ("codec",))).eval(), ("tokens",), ("magnitude",),
                  {"tokens": batch_tokens}),
    ]


def attention_as_matmuls(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
    """scaled_dot_product_attention as softmax(q k^T * scale + mask) v (inference: no dropout)."""
    if is_causal or dropout_p or kwargs:
        raise ValueError("attention_as_matmuls covers the non-causal, dropout-free case only")
    scores = torch.matmul(q, k.transpose(-2, -1)) * (scale if scale is not None else 1.0 / math.sqrt(q.shape[-1]))
    if attn_mask is not None:
        scores = scores + attn_mask
    return torch.matmul(torch.softmax(scores, dim=-1), v)


@contextlib.contextmanager
def export_friendly(explicit_attention: bool = False):
    """Trace `Tensor.chunk` as narrow() slices while exporting (the same values), and with
    `explicit_attention` scaled_dot_product_attention as matmuls (see ATTENTION_AS_MATMULS).

    ExecuTorch's edge lowering specialises the batch dimension of a graph that splits the last
    axis with split_with_sizes; slices keep it dynamic. The model code itself stays untouched.
    """
    original = torch.Tensor.chunk
    original_sdpa = F.scaled_dot_product_attention

    def chunk(self, chunks, dim=0):
        size = self.shape[dim]
        if not isinstance(size, int) or size % chunks:
            return original(self, chunks, dim)
        step = size // chunks
        return tuple(self.narrow(dim, i * step, step) for i in range(chunks))

    torch.Tensor.chunk = chunk
    if explicit_attention:
        F.scaled_dot_product_attention = attention_as_matmuls
    try:
        yield
    finally:
        torch.Tensor.chunk = original
        F.scaled_dot_product_attention = original_sdpa


def min_tokens(config: ModelConfig) -> int:
    """The fewest positions a graph takes."""
    return 1


def dynamic_shapes(component: Component, config: ModelConfig, max_batch: int = MAX_BATCH,
                   guidance_rows: int | None = None):
    """torch.export Dim specs for the component's inputs: batch and token count dynamic, guidance rows
    dynamic (1 or 2) when `guidance_rows` is None, else fixed at the example's."""
    from torch.export import Dim

    dims = {"batch": Dim("batch", min=1, max=max_batch) if max_batch > 1 else None,  # None: static batch 1
            "tokens": Dim("tokens", min=min_tokens(config), max=config.max_tokens),
            "guidance": Dim("guidance", min=1, max=2) if guidance_rows is None else None}
    specs = []
    for name in component.inputs:
        axes = {axis: dims[kind] for axis, kind in component.dynamic.get(name, {}).items() if dims[kind] is not None}
        specs.append(axes or None)
    return tuple(specs)


def example_for_export(component: Component, config: ModelConfig, max_batch: int = MAX_BATCH,
                       guidance_rows: int = 2) -> dict:
    """Inputs to trace with: batch 2 when batch is dynamic (a size-1 example would be specialised)."""
    return component.example(config, EXAMPLE_BATCH if max_batch > 1 else 1,
                             min(config.max_tokens, max(2, config.max_tokens // 2)), guidance_rows=guidance_rows)


def to_torch(inputs: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(v)) for v in inputs.values())


def export_program(component: Component, config: ModelConfig, max_batch: int = MAX_BATCH,
                   explicit_attention: bool = False, guidance_rows: int | None = None):
    """torch.export the component with dynamic batch and token count; guidance rows dynamic (None) or fixed."""
    from torch.export import export

    example = example_for_export(component, config, max_batch, guidance_rows or 2)
    with export_friendly(explicit_attention), torch.no_grad():
        try:
            shapes = dynamic_shapes(component, config, max_batch, guidance_rows)
            return export(component.module, to_torch(example), dynamic_shapes=shapes)
        except Exception as exc:  # surface which component failed, keep the cause
            raise RuntimeError(f"torch.export of {component.name} failed: {exc}") from exc


@torch.no_grad()
def reference(component: Component, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The torch fp32 output of a component for numpy inputs."""
    return component.module(*to_torch(inputs)).numpy()


def parity_inputs(component: Component, config: ModelConfig) -> list[dict[str, np.ndarray]]:
    """The fixed inputs parity is measured on: batch 1 at full length, batch 2 at a short length,
    and for the step batch 2 with one guidance row (cfg 1) too."""
    short = max(1, min(config.max_tokens, config.max_tokens // 3 + 1))
    inputs = [component.example(config, 1, config.max_tokens, seed=1), component.example(config, 2, short, seed=2)]
    if "guidance" in component.inputs:
        inputs.append(component.example(config, 2, short, seed=3, guidance_rows=1))
    return inputs


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |a - b| / max |b|: the figure held to 1e-4 for fp32 components."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))


def norm_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """||a - b|| / ||b||: the typical size of an error (used to judge int8 components)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-12))


def random_student(name: str | ModelConfig = "small", seed: int = 0) -> T2AModel:
    """A random-weight student of a preset (or config), for speed measurements and tests only.

    Zero-initialised layers (AdaLN modulation, final projections) get their default random init,
    so every component computes something non-trivial; the audio is meaningless.
    """
    torch.manual_seed(seed)
    model = T2AModel(preset(name) if isinstance(name, str) else name, diffusion_head=False, energy_head=True)
    for module in model.modules():
        if isinstance(module, nn.Linear) and not module.weight.detach().any():
            module.reset_parameters()
    return model.eval()


def random_model_dir(name: str, seed: int = 0):
    """A saved random-weight student of a preset in the cache (made on first use); speed tests only."""
    from pathlib import Path

    from t2a_edge.core.config import PRESETS
    from t2a_edge.core.model import save_model
    from t2a_edge.core.model_files import MODEL_FILE
    from t2a_edge.core.paths import cache_dir

    if name not in PRESETS:
        raise T2AError(f"unknown preset '{name}' in random:{name}: choose one of {', '.join(PRESETS)}")
    import hashlib

    # The config hash keeps a model saved by an older version of the code from being reused.
    digest = hashlib.sha256(preset(name).to_json().encode()).hexdigest()[:8]
    folder = Path(cache_dir()) / "random-models" / f"{name}-seed{seed}-{digest}"
    if not (folder / MODEL_FILE).is_file():
        save_model(random_student(name, seed), folder,
                   extra={"random_weights": True, "note": "random weights: for speed measurements only"})
    return folder
