"""Every optimizer minimizes a real problem, on its own (no torch oracle): the least-squares
fit of y = x^2 + noise (the course's noisy quadratic) with the features (1, x, x^2), whose
optimum is known in closed form. Full batch, float64, a few hundred steps; the loss must come
within 1e-6 of the optimum (the noise sets the optimum at about 0.01)."""

import pytest
import torch

import course_lib.optim as optim
from course_lib.data import noisy_quadratic

# (options, steps, decay the learning rate): tuned once, with margin
CONFIGS = {
    "SGD": ({"lr": 0.3, "momentum": 0.9}, 300, False),
    "Adam": ({"lr": 0.05}, 500, False),
    "AdamW": ({"lr": 0.05, "weight_decay": 1e-5}, 500, False),
    "Adamax": ({"lr": 0.05}, 500, False),
    "NAdam": ({"lr": 0.05}, 500, False),
    "RAdam": ({"lr": 0.05}, 500, False),
    "Adagrad": ({"lr": 0.5}, 500, False),
    "RMSprop": ({"lr": 0.01}, 500, False),
    "Adadelta": ({"lr": 1.0, "eps": 1e-3, "rho": 0.99}, 500, False),
    "ASGD": ({"lr": 0.3, "t0": 200}, 500, False),
    "Rprop": ({}, 300, False),
    "Adafactor": ({"lr": 0.1}, 500, True),  # relative steps do not shrink by themselves
    "Muon": ({"lr": 0.1, "weight_decay": 0.0}, 500, True),  # orthogonalized steps neither
    "SparseAdam": ({"lr": 0.05}, 500, False),
}


@pytest.fixture
def problem(device):
    x, y = noisy_quadratic(200, noise=0.1, dtype=torch.float64, device=device)
    features = torch.cat([torch.ones_like(x), x, x**2], dim=1)
    best = torch.nn.functional.mse_loss(features @ torch.linalg.lstsq(features, y).solution, y)
    return features, y, best.item()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_converges_on_noisy_quadratic_regression(name, problem):
    features, y, best = problem
    options, steps, decay = CONFIGS[name]
    if name == "SparseAdam":  # the weights as embedding rows, so that gradients are sparse
        emb = torch.nn.Embedding(3, 1, sparse=True).to(features)
        torch.nn.init.constant_(emb.weight, 0.5)
        rows = torch.arange(3, device=features.device)
        params, weight = [emb.weight], lambda: emb(rows).T
    else:
        w = torch.nn.Parameter(torch.full((1, 3), 0.5, dtype=torch.float64, device=features.device))
        params, weight = [w], lambda: w
    opt = getattr(optim, name)(params, **options)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99) if decay else None
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(features @ weight().T, y).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
    with torch.no_grad():
        final = torch.nn.functional.mse_loss(features @ weight().T, y).item()
        assert final - best < 1e-6, f"{name}: loss {final:.6g}, optimum {best:.6g}"
        if name == "ASGD":
            averaged = torch.nn.functional.mse_loss(features @ opt.state[params[0]]["ax"].T, y)
            assert averaged.item() - best < 1e-6


def test_lbfgs_converges_on_noisy_quadratic_regression(problem):
    features, y, best = problem
    w = torch.nn.Parameter(torch.full((1, 3), 0.5, dtype=torch.float64, device=features.device))
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(features @ w.T, y)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    assert closure().item() - best < 1e-8  # it stops once the loss changes by < 1e-9
