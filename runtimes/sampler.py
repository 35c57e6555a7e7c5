"""The one sampling loop every backend runs: masked-autoregressive generation in numpy."""

from __future__ import annotations

import math
import time

import numpy as np

from t2a_edge.core.envelope import smooth_loudness, window_frames
from t2a_edge.core.masking import cfg_schedule, random_orders, reveal_counts
from t2a_edge.core.phase import synthesize


_erf = np.frompyfunc(math.erf, 1, 1)


def head_noise(rng: np.random.Generator, n_tokens: int, noise_dim: int, correlation: float = 0.0) -> np.ndarray:
    """The student head's noise U[-0.5, 0.5] for every position, independent (correlation 0) or
    correlated along time as exp(-distance / correlation) tokens apart.

    A Gaussian AR(1) pushed through its own CDF (a Gaussian copula): each position's noise keeps
    the uniform distribution the head trained on, so only how neighbouring tokens relate changes.
    """
    if correlation <= 0:
        return rng.uniform(-0.5, 0.5, (n_tokens, noise_dim))
    rho = math.exp(-1.0 / correlation)
    walk = rng.standard_normal((n_tokens, noise_dim))
    for i in range(1, n_tokens):
        walk[i] = rho * walk[i - 1] + math.sqrt(1.0 - rho * rho) * walk[i]
    return 0.5 * _erf(walk / math.sqrt(2.0)).astype(np.float64)  # Phi(walk) - 0.5


def generate_tokens(backend, text: np.ndarray, text_mask: np.ndarray, n_tokens: int, steps: int, cfg: float,
                    temperature: float, seed: int, teacher_steps: int | None = None,
                    progress=None, noise_correlation: float = 0.0, anchors: int = 0,
                    first_example: int = 0) -> np.ndarray:
    """K iterations of the cosine schedule in a random order; returns (B, N, token_dim) tokens.

    Example i draws from its own stream np.random.default_rng([seed, first_example + i]), so a long
    request split into batches (`first_example`: where the batch starts) gives the clips one batch
    gives, a request's first prompt gives the same audio alone, and every backend the same draws.
    The student draws noise U[-0.5, 0.5] for every position (correlated along time with
    `noise_correlation`, see head_noise) and keeps the revealed
    ones; the teacher (torch only) samples just the revealed tokens with `teacher_steps` diffusion
    steps. `anchors` A > 0 makes the
    first of K >= 2 steps reveal A tokens (core.masking.reveal_counts).
    """
    batch = text.shape[0]
    cfg_model = backend.config
    token_dim, noise_dim = cfg_model.token_dim, cfg_model.head.noise_dim
    rngs = [np.random.default_rng([seed, first_example + i]) for i in range(batch)]
    orders = np.concatenate([random_orders(rng, 1, n_tokens) for rng in rngs])
    tokens = np.zeros((batch, n_tokens, token_dim), np.float32)
    known = np.zeros((batch, n_tokens), np.float32)
    rows = np.arange(batch)[:, None]
    revealed = 0
    for count, scale in zip(reveal_counts(steps, n_tokens, anchors), cfg_schedule(cfg, steps, n_tokens, anchors)):
        targets = orders[:, revealed:revealed + count]  # (B, count) positions revealed now
        if teacher_steps is None:
            noise = np.stack([head_noise(rng, n_tokens, noise_dim, noise_correlation) for rng in rngs]).astype(np.float32)
            predicted = backend.step(text, text_mask, tokens, known, noise, scale, temperature)[rows, targets]
        else:
            noise = np.stack([rng.standard_normal((teacher_steps + 1, count, token_dim)) for rng in rngs], axis=1)
            predicted = backend.teacher_step(text, text_mask, tokens, known, targets, noise.astype(np.float32),
                                             scale, temperature, teacher_steps)
        tokens[rows, targets] = predicted
        known[rows, targets] = 1.0
        revealed += count
        if progress is not None:
            progress(count)
    return tokens


def run_pipeline(backend, tokenizer, prompts: list[str], settings, progress=None,
                 first_example: int = 0) -> tuple[np.ndarray, dict]:
    """Prompts -> (B, samples) waveforms of exactly `settings.seconds`, plus per-stage wall times.

    `settings` is a core.settings.Settings with every field set (Settings.resolve). `spread` scales
    every generated token before decoding. Latents are normalised to the corpus mean
    (0) per channel and tokens are a per-channel scaling of them, so spread < 1 pulls each latent
    frame toward the corpus mean: the one-step head's draws swing 2-3.5x as far within a clip as
    real clips do and burst above full scale; pulled back by 0.8 they stop clipping, with a lower
    FAD and the same hit-rate (README, "The default model", v32). `smooth` ms > 0 smooths the
    decoded clip's loudness along time over a Hann window that long (core.envelope, v41).
    """
    seconds, spread, smooth = settings.seconds, settings.spread, settings.smooth
    config = backend.config
    n_tokens = config.tokens_for(seconds)
    timings = {}
    start = time.perf_counter()
    ids, mask = tokenizer(prompts)
    text = backend.encode_text(ids, mask)
    timings["text"] = time.perf_counter() - start
    start = time.perf_counter()
    tokens = generate_tokens(backend, text, mask.astype(np.float32), n_tokens, settings.steps, settings.cfg,
                             settings.temperature, settings.seed, settings.teacher_steps, progress,
                             settings.noise_correlation, settings.anchors, first_example)
    timings["steps"] = time.perf_counter() - start
    start = time.perf_counter()
    if spread != 1.0:
        tokens = tokens * np.float32(spread)
    magnitude = backend.decode(tokens)
    if smooth > 0:
        magnitude = smooth_loudness(magnitude, window_frames(smooth, config.codec.hop / config.codec.sample_rate))
    wave = synthesize(magnitude, config.codec)  # magnitudes -> waveform, the same for every backend
    timings["decode"] = time.perf_counter() - start
    samples = int(round(seconds * config.codec.sample_rate))
    return np.asarray(wave[:, :samples], dtype=np.float32), timings
