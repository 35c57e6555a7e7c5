"""The energy score is a proper scoring rule in practice: minimising it recovers a distribution."""

import torch

from t2a_edge.core.heads import energy_score_loss


def fit_gaussian(data_mean, data_std, steps=1500, batch=512, seed=0, tau=1.0):
    """Fit mu + sigma * eps to samples of N(data_mean, data_std^2) by minimising the energy score."""
    gen = torch.Generator().manual_seed(seed)
    dim = len(data_mean)
    mu = torch.zeros(dim, requires_grad=True)
    log_sigma = torch.zeros(dim, requires_grad=True)
    opt = torch.optim.Adam([mu, log_sigma], lr=0.03)
    for _ in range(steps):
        y = torch.tensor(data_mean) + torch.tensor(data_std) * torch.randn(batch, dim, generator=gen)
        x1 = mu + log_sigma.exp() * torch.randn(batch, dim, generator=gen)
        x2 = mu + log_sigma.exp() * torch.randn(batch, dim, generator=gen)
        loss = energy_score_loss(x1, x2, y, tau=tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return mu.detach(), log_sigma.exp().detach()


def test_energy_score_recovers_1d_mean_and_spread():
    mu, sigma = fit_gaussian([2.0], [0.5])
    assert abs(mu.item() - 2.0) < 0.1
    assert abs(sigma.item() - 0.5) < 0.1


def test_energy_score_recovers_2d_mean_and_spread():
    mu, sigma = fit_gaussian([-1.0, 3.0], [1.5, 0.3])
    assert torch.allclose(mu, torch.tensor([-1.0, 3.0]), atol=0.15)
    assert torch.allclose(sigma, torch.tensor([1.5, 0.3]), atol=0.15)


def test_a_lower_tau_sharpens_the_fit_without_collapsing_it():
    # --energy-tau: less pay for spread keeps the mean and narrows the distribution.
    mu, sigma = fit_gaussian([2.0], [1.0], tau=0.5)
    assert abs(mu.item() - 2.0) < 0.1
    assert 0.15 < sigma.item() < 0.75


def test_a_higher_tau_widens_the_fit_and_stays_finite():
    # --energy-tau above 1: more pay for spread keeps the mean and widens the distribution.
    mu, sigma = fit_gaussian([2.0], [1.0], tau=1.2)
    assert abs(mu.item() - 2.0) < 0.1
    assert 1.25 < sigma.item() < 2.5


def test_without_the_interaction_term_the_spread_collapses():
    # tau = 0 is no longer proper: it rewards putting every sample on the median.
    gen = torch.Generator().manual_seed(1)
    mu = torch.zeros(1, requires_grad=True)
    log_sigma = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([mu, log_sigma], lr=0.05)
    for _ in range(600):
        y = 1.0 * torch.randn(256, 1, generator=gen)
        x1 = mu + log_sigma.exp() * torch.randn(256, 1, generator=gen)
        x2 = mu + log_sigma.exp() * torch.randn(256, 1, generator=gen)
        loss = energy_score_loss(x1, x2, y, tau=0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert log_sigma.exp().item() < 0.2


def test_energy_loss_weights_only_masked_positions():
    y = torch.zeros(1, 4, 3)
    x = torch.zeros(1, 4, 3)
    x[0, 0] = 10.0  # a huge error at an unmasked position
    weight = torch.tensor([[0.0, 1.0, 1.0, 1.0]])
    assert energy_score_loss(x, x, y, weight).item() < 1e-3
    assert energy_score_loss(x, x, y).item() > 1.0


def _clip_scores(shared: bool, draws: int = 4000, n: int = 16, seed: int = 2):
    """Mean per-token and whole-clip energy scores of a model whose clips are all +1 or all -1 tokens.

    The data: each clip is one source, every token +1 or every token -1. The model's tokens have the
    same marginal (+1 or -1 with equal odds), drawn once per clip if `shared`, else per token.
    """
    from t2a_edge.core.heads import clip_energy_score_loss

    gen = torch.Generator().manual_seed(seed)

    def signs(per_clip):
        shape = (draws, 1, 1) if per_clip else (draws, n, 1)
        return (torch.randint(0, 2, shape, generator=gen) * 2.0 - 1.0).expand(draws, n, 1)

    y, x1, x2 = signs(True), signs(shared), signs(shared)
    return energy_score_loss(x1, x2, y).item(), clip_energy_score_loss(x1, x2, y).item()


def test_clip_energy_score_tells_one_source_from_mixed_tokens():
    # The per-token score sees only marginals, so it cannot prefer the coherent model; the clip score does.
    token_shared, clip_shared = _clip_scores(shared=True)
    token_mixed, clip_mixed = _clip_scores(shared=False)
    assert abs(token_shared - token_mixed) < 0.05
    assert clip_shared < clip_mixed - 0.2


def test_clip_energy_score_ignores_unweighted_positions_and_matches_a_cut_clip():
    from t2a_edge.core.heads import clip_energy_score_loss

    gen = torch.Generator().manual_seed(3)
    x1, x2, y = (torch.randn(3, 10, 4, generator=gen) for _ in range(3))
    weight = torch.ones(3, 10)
    weight[:, 6:] = 0.0
    x1_far, x2_far = x1.clone(), x2.clone()
    x1_far[:, 6:] = x2_far[:, 6:] = 100.0  # errors where nothing is scored
    cut = clip_energy_score_loss(x1[:, :6], x2[:, :6], y[:, :6])
    assert torch.allclose(clip_energy_score_loss(x1_far, x2_far, y, weight), cut)
    assert clip_energy_score_loss(x1_far, x2_far, y).item() > 10 * cut.item()
