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

