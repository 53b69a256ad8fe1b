"""course_lib.train and course_lib.plots: the loop trains, the statistics are the true
activations and gradients, the figures draw."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from course_lib import data, plots, train


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
    assert all(a != a for a in runs[0].val_accuracy)  # float targets: accuracy is NaN


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
