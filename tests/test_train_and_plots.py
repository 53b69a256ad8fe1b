"""course_lib.train and course_lib.plots: the loop trains, the statistics are the true
activations and gradients, the figures draw."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from course_lib import data, plots, schedulers, train


def test_mlp_layers_and_init():
    model = train.mlp([5, 7, 7, 3], activation=nn.Tanh, init=nn.init.ones_)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in model if isinstance(m, nn.Linear))
    assert all(not m.bias.any() for m in model if isinstance(m, nn.Linear))
    with pytest.raises(ValueError, match="input and an output size"):
        train.mlp([5])


def test_fit_learns_digits_and_records_every_epoch():
    torch.manual_seed(0)
    split = data.load_digits()
    model = train.mlp([64, 32, 10])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = train.fit(
        model, nn.functional.cross_entropy, optimizer, split, epochs=4, batch_size=64, scheduler=scheduler
    )
    assert len(history.train_loss) == len(history.val_accuracy) == 5
    assert history.lr == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_accuracy[-1] > 0.85


def test_fit_is_reproducible_for_a_seed():
    split = data.load_breast_cancer()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(30, 1), nn.Flatten(0))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        runs.append(train.fit(model, nn.functional.binary_cross_entropy_with_logits, optimizer, split, epochs=2, batch_size=32, seed=3))
    assert runs[0].train_loss == runs[1].train_loss
    assert runs[0].step_loss == runs[1].step_loss and len(runs[0].step_loss) == 2 * 15


def plain_loop(model, loss_fn, optimizer, split, *, epochs, batch_size, seed=0, penalty=None):
    """The oracle of fit: zero_grad, forward, backward, step, on fit's batches; returns the
    batch losses."""
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        for xb, yb in data.batches(split.x_train, split.y_train, batch_size, generator=generator):
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            if penalty is not None:
                loss = loss + penalty(model)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def twin_models(*shape):
    """Two identical mlp models (fit trains one, the oracle the other)."""
    torch.manual_seed(0)
    model = train.mlp(shape)
    twin = train.mlp(shape)
    twin.load_state_dict(model.state_dict())
    return model, twin


def assert_same_parameters(a, b):
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_fit_records_every_step_like_the_plain_loop():
    split = data.load_digits()
    model, twin = twin_models(64, 16, 10)
    history = train.fit(
        model, nn.functional.cross_entropy, torch.optim.Adam(model.parameters(), lr=0.01),
        split, epochs=2, batch_size=100, seed=5,
    )
    expected = plain_loop(
        twin, nn.functional.cross_entropy, torch.optim.Adam(twin.parameters(), lr=0.01),
        split, epochs=2, batch_size=100, seed=5,
    )
    assert history.step_loss == expected and len(expected) == 2 * 15
    assert history.gradient_evaluations == list(range(1, 31))
    assert history.step_lr == [0.01] * 30
    assert_same_parameters(model, twin)


def test_fit_steps_a_closure_optimizer_and_counts_its_evaluations():
    split = data.load_breast_cancer()
    model, twin = twin_models(30, 1)
    bce = nn.functional.binary_cross_entropy_with_logits
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
    history = train.fit(model, bce, optimizer, split, epochs=3, batch_size=len(split.x_train))
    oracle = torch.optim.LBFGS(twin.parameters(), lr=0.5, max_iter=5)
    generator, expected = torch.Generator().manual_seed(0), []
    for _ in range(3):
        n = len(split.x_train)
        for xb, yb in data.batches(split.x_train, split.y_train, n, generator=generator):

            def closure():
                oracle.zero_grad()
                loss = bce(twin(xb).squeeze(1), yb)
                loss.backward()
                return loss

            expected.append(oracle.step(closure).item())
    assert history.step_loss == expected
    assert_same_parameters(model, twin)
    evaluations = oracle.state[next(twin.parameters())]["func_evals"]
    assert history.gradient_evaluations[-1] == evaluations > 3


def test_layer_statistics_are_the_real_activations_and_gradients(device):
    torch.manual_seed(0)
    model = train.mlp([6, 5, 4, 3]).to(device)
    x, y = torch.randn(8, 6, device=device), torch.randint(0, 3, (8,), device=device)
    stats = train.layer_statistics(model, nn.functional.cross_entropy, x, y)
    assert stats.names == ["0", "2", "4"]
    hidden = model[:3](x)
    torch.testing.assert_close(stats.activations[1], hidden)
    out = model(x)
    (grad_out,) = torch.autograd.grad(nn.functional.cross_entropy(out, y), out)
    torch.testing.assert_close(stats.gradients[-1], grad_out)
    assert [g.shape for g in stats.gradients] == [a.shape for a in stats.activations]
    assert all(p.grad is None for p in model.parameters())
    assert len(stats.activation_std()) == len(stats.gradient_std()) == 3


def test_plots_draw():
    torch.manual_seed(0)
    model = train.mlp([6, 5, 4, 3])
    stats = train.layer_statistics(model, nn.functional.cross_entropy, torch.randn(8, 6), torch.randint(0, 3, (8,)))
    ax = plots.layer_std({"default": stats.activation_std()}, title="t")
    assert ax.get_yscale() == "log" and len(ax.lines) == 1
    fig = plots.layer_histograms(stats, what="gradients")
    assert len(fig.axes) == 3
    ax = plots.curves({"a": [1, 2], "b": [2, 1]}, ylabel="loss")
    assert ax.get_legend() is not None
    assert plots.weight_histograms({"w": model[0].weight}).get_xlabel() == "weight value"
    matplotlib.pyplot.close("all")


def test_accumulated_gradients_equal_the_full_batch_gradient(device):
    torch.manual_seed(0)
    model = train.mlp([5, 6, 3]).to(device).double()
    x = torch.randn(10, 5, device=device, dtype=torch.float64)
    y = torch.randint(0, 3, (10,), device=device)
    nn.functional.cross_entropy(model(x), y).backward()
    full = [p.grad.clone() for p in model.parameters()]
    train.accumulate_gradients(model, nn.functional.cross_entropy, x, y, micro_batch_size=4)
    for accumulated, expected in zip((p.grad for p in model.parameters()), full):
        torch.testing.assert_close(accumulated, expected, rtol=1e-12, atol=1e-14)


def test_train_step_zeroes_gradients_first():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3), torch.randn(4, 1)
    model.weight.grad = torch.full_like(model.weight, 100.0)
    weight, bias = model.weight.detach().clone().requires_grad_(), model.bias.detach().clone()
    (grad,) = torch.autograd.grad(nn.functional.mse_loss(x @ weight.T + bias, y), weight)
    loss = train.train_step(model, nn.functional.mse_loss, optimizer, x, y)
    assert isinstance(loss, float)
    torch.testing.assert_close(model.weight.detach(), weight.detach() - 0.1 * grad)


@pytest.mark.parametrize("loader", [data.load_digits, data.load_breast_cancer, data.load_diabetes])
def test_splits_are_standardized_by_training_statistics_only(loader):
    split = loader()
    torch.testing.assert_close(split.x_train.mean(dim=0), torch.zeros(split.x_train.shape[1]), atol=1e-5, rtol=0)
    std = split.x_train.std(dim=0)
    assert ((std - 1).abs() < 1e-4).logical_or(std == 0).all()
    # A feature constant in training is centred but not scaled, so validation stays moderate.
    assert split.x_val.abs().max() < 100
    assert len(split.x_train) + len(split.x_val) == len(split.y_train) + len(split.y_val)


def test_fit_steps_the_scheduler_per_batch_or_per_epoch():
    split = data.load_digits()
    for every, expected_step_lr, expected_lr in [
        ("batch", [0.1 * 0.5 ** (i // 4) for i in range(30)], [0.1, 0.1 * 0.5**3, 0.1 * 0.5**7]),
        ("epoch", [0.1] * 15 + [0.1 * 0.5**0] * 15, [0.1, 0.1, 0.05]),
    ]:
        model = train.mlp([64, 10])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        step_size = 4 if every == "batch" else 2
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.5)
        history = train.fit(
            model, nn.functional.cross_entropy, optimizer, split, epochs=2, batch_size=100,
            scheduler=scheduler, scheduler_every=every,
        )
        torch.testing.assert_close(history.step_lr, expected_step_lr, rtol=0, atol=0)
        torch.testing.assert_close(history.lr, expected_lr, rtol=0, atol=0)
    with pytest.raises(ValueError, match="scheduler_every"):
        train.fit(
            model, nn.functional.cross_entropy, optimizer, split, epochs=1, batch_size=100,
            scheduler_every="step",
        )


@pytest.mark.parametrize(
    "plateau_class", [torch.optim.lr_scheduler.ReduceLROnPlateau, schedulers.ReduceLROnPlateau]
)
@pytest.mark.parametrize("every", ["epoch", "batch"])
def test_fit_steps_reduce_on_plateau_with_the_validation_or_batch_loss(plateau_class, every):
    split = data.load_digits()
    # Shuffled validation labels: the validation loss rises while the training loss falls, so
    # stepping with the wrong metric gives other rates.
    shuffle = torch.randperm(len(split.y_val), generator=torch.Generator().manual_seed(0))
    split = split._replace(y_val=split.y_val[shuffle])
    torch.manual_seed(0)
    model = train.mlp([64, 10])
    lr = 0.1 if every == "epoch" else 1.0
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = plateau_class(optimizer, factor=0.5, patience=0, threshold=0.1)
    history = train.fit(
        model, nn.functional.cross_entropy, optimizer, split, epochs=4, batch_size=200,
        scheduler=scheduler, scheduler_every=every,
    )
    # The oracle: torch's scheduler on its own optimizer, stepped with the recorded metric.
    replay = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    oracle = torch.optim.lr_scheduler.ReduceLROnPlateau(
        replay, factor=0.5, patience=0, threshold=0.1
    )
    if every == "epoch":
        metrics, rates = history.val_loss[1:], history.lr[1:]
    else:
        metrics, rates = history.step_loss, history.step_lr[1:]
    expected = []
    for metric in metrics:
        oracle.step(metric)
        expected.append(replay.param_groups[0]["lr"])
    assert rates == expected[: len(rates)]
    assert lr > rates[-1]  # the rate was reduced
    assert history.train_loss[-1] < history.train_loss[1]
    assert history.val_loss[-1] > history.val_loss[1]


def test_fit_binary_targets_with_one_output_column():
    split = data.load_breast_cancer()
    torch.manual_seed(0)
    model = nn.Linear(30, 1)  # (N, 1) logits against (N,) float targets 0./1.
    bce = nn.functional.binary_cross_entropy_with_logits
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train.fit(model, bce, optimizer, split, epochs=2, batch_size=32)
    with torch.no_grad():
        logits = model(split.x_val)
    assert logits.shape == (len(split.y_val), 1)
    correct = (logits.squeeze(1) > 0) == (split.y_val == 1)
    assert history.val_accuracy[-1] == correct.double().mean().item()
    assert history.val_loss[-1] == bce(logits.squeeze(1), split.y_val).item()
    assert 0.9 < history.val_accuracy[-1] < 1 and history.val_accuracy[0] < 0.9


def test_fit_regression_has_no_accuracy_and_matches_outputs_to_targets():
    split = data.load_diabetes()
    model, twin = twin_models(10, 1)
    mse = nn.functional.mse_loss
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    history = train.fit(model, mse, optimizer, split, epochs=1, batch_size=50)
    expected = plain_loop(
        twin, lambda out, y: mse(out.squeeze(1), y), torch.optim.SGD(twin.parameters(), lr=0.01),
        split, epochs=1, batch_size=50,
    )
    assert history.step_loss == expected
    assert all(a != a for a in history.val_accuracy + history.train_accuracy)


def test_fit_adds_the_penalty_to_training_only():
    split = data.load_digits()
    model, twin = twin_models(64, 10)

    def penalty(m):
        return 0.05 * sum(p.pow(2).sum() for p in m.parameters())

    ce = nn.functional.cross_entropy
    settings = dict(epochs=2, batch_size=100, penalty=penalty)
    history = train.fit(model, ce, torch.optim.SGD(model.parameters(), lr=0.1), split, **settings)
    expected = plain_loop(twin, ce, torch.optim.SGD(twin.parameters(), lr=0.1), split, **settings)
    assert history.step_loss == expected
    assert_same_parameters(model, twin)
    with torch.no_grad():
        val_loss = ce(model(split.x_val), split.y_val).item()
        train_objective = ce(model(split.x_train), split.y_train).item() + penalty(model).item()
    assert history.val_loss[-1] == val_loss
    assert history.train_loss[-1] == train_objective
    assert penalty(model).item() > 0.01  # large enough to tell the two apart
