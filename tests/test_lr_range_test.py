"""The LR range test: its sweep and smoothing equal the formulas, it stops on divergence, it
restores model and optimizer, and on real data (digits, a small MLP, SGD) it suggests a rate
within a factor of 3 of the best fixed rate found by a sweep of short trainings."""

import math

import pytest
import torch

from course_lib.data import batches, load_digits
from course_lib.schedulers import lr_range_test
from course_lib.schedulers.range_test import range_test_lrs, smooth_losses, steepest_lr

STEPS = 100


@pytest.fixture
def one_thread():
    """Tiny models train fastest, and reproducibly, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mlp(seed: int = 0, device="cpu") -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
        )
    return model.to(device)


def digits(device="cpu"):
    """Mini-batches of 1150 training digits and the rest of the training split held out for
    choosing the best fixed rate (the validation split stays untouched)."""
    split = load_digits(device=device)
    x, y = split.x_train, split.y_train
    train = list(batches(x[:1150], y[:1150], 64, generator=torch.Generator().manual_seed(0)))
    return train, (x[1150:], y[1150:])


def held_out_loss_after_training(lr: float, train, held_out) -> float:
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(STEPS):
        x, y = train[step % len(train)]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(held_out[0]), held_out[1]).item()
    return loss if math.isfinite(loss) else math.inf


def test_suggestion_within_factor_3_of_best_fixed_rate_on_digits(one_thread):
    train, held_out = digits()
    grid = [10 ** (e / 4) for e in range(-12, 3)]  # 1e-3 .. 3.16, quarter decades
    losses = {lr: held_out_loss_after_training(lr, train, held_out) for lr in grid}
    best = min(losses, key=losses.get)
    assert grid[0] < best < grid[-1]  # an interior optimum: the sweep brackets it
    model = mlp()
    result = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        torch.nn.functional.cross_entropy,
        train,
        start_lr=1e-4,
        end_lr=10.0,
        num_steps=STEPS,
    )
    assert result.diverged
    assert best / 3 <= result.suggestion <= 3 * best, (result.suggestion, best)


def test_model_optimizer_and_mode_restored(device):
    train, _ = digits(device)
    model = mlp(device=device).eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = train[0]
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()  # a momentum buffer now exists and must survive
    before = {k: v.clone() for k, v in model.state_dict().items()}
    buffers = [optimizer.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    result = lr_range_test(
        model,
        optimizer,
        torch.nn.functional.cross_entropy,
        train[:3],
        start_lr=1e-3,
        end_lr=1.0,
        num_steps=10,
    )
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) == 10
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(
        torch.equal(b, optimizer.state[p]["momentum_buffer"])
        for b, p in zip(buffers, model.parameters(), strict=True)
    )
    assert [g["lr"] for g in optimizer.param_groups] == [0.05]


def test_losses_are_recorded_per_step_and_smoothed_by_the_formula():
    """Linear regression on 4 fixed batches cycled 3 times: losses[i] is batch i % 4's loss at
    the weights after i steps; smoothed is the bias-corrected moving average of them."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    data = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model = torch.nn.Linear(3, 1, bias=False).double()
    torch.nn.init.zeros_(model.weight)
    loss_fn = lambda out, target: torch.nn.functional.mse_loss(out.squeeze(1), target)  # noqa: E731
    result = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        loss_fn,
        data,
        start_lr=1e-3,
        end_lr=1e-1,
        num_steps=12,
        mode="linear",
        smoothing=0.3,
    )
    expected_lrs = [1e-3 + (1e-1 - 1e-3) * (i / 11) for i in range(12)]
    assert result.lrs == expected_lrs and not result.diverged
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    for i, lr in enumerate(expected_lrs):
        bx, by = data[i % 4]
        loss = torch.nn.functional.mse_loss(bx @ w, by)
        assert result.losses[i] == pytest.approx(loss.item(), rel=1e-12)
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad = None
    average = 0.0
    for i, loss in enumerate(result.losses, start=1):
        average = 0.7 * average + 0.3 * loss
        assert result.smoothed[i - 1] == pytest.approx(average / (1 - 0.7**i), rel=1e-12)


def test_stops_at_divergence():
    """On a quadratic the loss explodes once lr > 2/curvature; the test stops right there."""
    x = torch.ones(8, 1)
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.ones_(model.weight)
    loss_fn = lambda out, target: (out - target).pow(2).mean()  # noqa: E731
    result = lr_range_test(
        model,
        torch.optim.SGD(model.parameters()),
        loss_fn,
        [(x, torch.zeros(8, 1))],
        start_lr=1e-3,
        end_lr=1e3,
        num_steps=200,
        diverge_threshold=4.0,
    )
    assert result.diverged and len(result.lrs) < 200
    assert result.smoothed[-1] > 4 * min(result.smoothed[:-1])
    assert all(s <= 4 * min(result.smoothed[: i + 1]) for i, s in enumerate(result.smoothed[:-1]))
    assert result.lrs[-1] > 1.0  # 2 / curvature: the loss is w^2, curvature 2


def test_exponential_sweep_is_geometric():
    lrs = range_test_lrs(1e-5, 1.0, 11)
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert lrs[0] == 1e-5 and lrs[-1] == pytest.approx(1.0, rel=1e-15)
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-12) == pytest.approx(10**0.5, rel=1e-12)


def test_smoothing_of_a_constant_is_that_constant():
    assert smooth_losses([3.0] * 50, 0.05) == pytest.approx([3.0] * 50, rel=1e-14)


def test_steepest_window_ignores_a_noise_dip():
    """A one-step dip is steeper than the real descent with window 1, not with window 3."""
    lrs = [10 ** (i / 10) for i in range(40)]
    smoothed = [10.0] * 20 + [10.0 - 0.8 * i for i in range(1, 11)] + [2.0] * 10
    smoothed[5] = 8.0
    assert steepest_lr(lrs, smoothed, window=1) == lrs[4]
    assert 20 <= lrs.index(steepest_lr(lrs, smoothed, window=3)) < 30


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="cosine"), "mode must be 'exp' or 'linear'"),
        (dict(start_lr=0.0), "0 < start_lr < end_lr"),
        (dict(start_lr=1.0, end_lr=0.1), "0 < start_lr < end_lr"),
        (dict(num_steps=1), "num_steps must be an integer >= 2"),
        (dict(smoothing=0.0), "smoothing must be in"),
        (dict(diverge_threshold=1.0), "diverge_threshold must be greater than 1"),
    ],
)
def test_invalid_arguments(kwargs, message):
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match=message):
        lr_range_test(
            model,
            torch.optim.SGD(model.parameters()),
            torch.nn.functional.mse_loss,
            [(torch.ones(1, 1), torch.ones(1, 1))],
            **kwargs,
        )


def test_empty_data_raises_and_restores():
    model = torch.nn.Linear(1, 1)
    before = model.weight.clone()
    with pytest.raises(ValueError, match="data yielded no batches"):
        lr_range_test(model, torch.optim.SGD(model.parameters()), torch.nn.functional.mse_loss, [])
    assert torch.equal(model.weight, before)


def test_a_one_shot_iterator_ends_the_sweep_when_exhausted():
    model = torch.nn.Linear(1, 1)
    batches_ = iter([(torch.ones(4, 1), torch.zeros(4, 1))] * 5)
    result = lr_range_test(
        model,
        torch.optim.SGD(model.parameters()),
        torch.nn.functional.mse_loss,
        batches_,
        start_lr=1e-4,
        end_lr=1e-3,
        num_steps=20,
    )
    assert len(result.lrs) == 5 and not result.diverged
