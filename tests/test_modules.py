"""course_lib.modules: DropoutNet follows train()/eval() like nn.Dropout, distinct_units counts
the units torch.unique tells apart, init_weights gives Kaiming weights through model.apply, and
build_model builds the same model as nn.Sequential from a plain description."""

import math

import pytest
import torch
from torch import nn

from course_lib import init
from course_lib.modules import DropoutNet, build_model, distinct_units, init_weights


def module_twin(net: DropoutNet) -> nn.Sequential:
    """The same network written with nn.Dropout, sharing net's parameters."""
    return nn.Sequential(net.hidden, nn.ReLU(), nn.Dropout(net.p), net.out)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5])
def test_dropout_net_equals_the_nn_dropout_network_in_both_modes(p, device):
    torch.manual_seed(0)
    net = DropoutNet(12, 32, 4, p).to(device)
    twin = module_twin(net)
    x = torch.randn(16, 12, device=device)
    for mode in (True, False):
        net.train(mode)
        twin.train(mode)
        torch.manual_seed(1)
        ours = net(x)
        torch.manual_seed(1)
        assert torch.equal(ours, twin(x))


def test_dropout_net_is_deterministic_after_eval_and_random_in_training(device):
    torch.manual_seed(0)
    net = DropoutNet(12, 64, 4, 0.5).to(device)
    x = torch.randn(8, 12, device=device)
    net.eval()
    expected = net.out(torch.relu(net.hidden(x)))
    assert torch.equal(net(x), expected) and torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


def test_dropout_net_rejects_a_probability_outside_0_1():
    with pytest.raises(ValueError, match="between 0 and 1"):
        DropoutNet(2, 2, 2, p=1.5)


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (torch.zeros(32, 64), 1),
        (torch.full((5, 3), 0.05), 1),
        (torch.tensor([[1.0, 2.0], [2.0, 1.0], [1.0, 2.0]]), 2),  # equal sums, different rows
        (torch.tensor([[0.0, 1.0], [-0.0, 1.0]]), 1),
        (torch.tensor([[math.nan, 1.0], [math.nan, 1.0]]), 2),
        (torch.empty(0, 4), 0),
    ],
)
def test_distinct_units_of_crafted_weights(weight, expected):
    assert distinct_units(weight) == expected


def test_distinct_units_of_random_and_convolution_weights(device):
    generator = torch.Generator(device=device).manual_seed(0)
    assert distinct_units(torch.randn(32, 64, generator=generator, device=device)) == 32
    conv = torch.randn(8, 3, 3, 3, generator=generator, device=device)
    conv[4:] = conv[0]  # output channels 4-7 copy channel 0, which differs only past [:, 0]
    conv[1, 2, 2, 2] = conv[0, 2, 2, 2] + 1
    conv[1, :2] = conv[0, :2]
    assert distinct_units(conv) == 4


def test_distinct_units_agrees_with_training_a_symmetric_network():
    """Constant weights stay constant across a layer's units under training; random do not."""
    for fill, expected in ((lambda w: init.constant_(w, 0.05), 1), (init.xavier_uniform_, 16)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
        fill(model[0].weight)
        fill(model[2].weight)
        init.zeros_(model[0].bias)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
        for _ in range(5):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        assert distinct_units(model[0].weight) == expected


def test_distinct_units_of_a_vector_raises_value_error():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        distinct_units(torch.zeros(3))


SPEC = [
    ["conv1d", 2, 8, 3],
    ["relu"],
    ["flatten"],
    ["linear", 8 * 30, 256],
    ["layernorm", 256],
    ["relu"],
    ["linear", 256, 128, {"bias": False}],
    ["embedding", 10, 4],
]


def test_init_weights_is_kaiming_normal_from_the_same_global_seed(device):
    model = build_model(SPEC).to(device)
    reference = build_model(SPEC).to(device)
    with torch.no_grad():
        model[4].weight.fill_(3.0)  # layernorm: must be reset to one and zero
        model[4].bias.fill_(-1.0)
    torch.manual_seed(5)
    model.apply(init_weights)
    torch.manual_seed(5)
    for index in (0, 3, 6):  # apply visits children in order, each before its parent
        nn.init.kaiming_normal_(reference[index].weight, nonlinearity="relu")
        if reference[index].bias is not None:
            nn.init.zeros_(reference[index].bias)
    for (name, ours), theirs in zip(model.state_dict().items(), reference.state_dict().values()):
        if name.startswith("4."):
            fill = 1.0 if name.endswith("weight") else 0.0
            assert torch.equal(ours, torch.full_like(theirs, fill)), name
        else:
            assert torch.equal(ours, theirs), name  # embedding untouched, the rest Kaiming


def test_init_weights_gives_the_variance_two_over_fan_in():
    torch.manual_seed(0)
    model = build_model([["linear", 400, 300], ["conv2d", 16, 64, 3]])
    model.apply(init_weights)
    for layer, fan_in in ((model[0], 400), (model[1], 16 * 9)):
        w = layer.weight.detach().double().flatten()
        # The sample variance has standard error sigma^2 sqrt(2 / n) for normal samples.
        sigma2 = 2 / fan_in
        assert abs(w.var().item() - sigma2) < 6 * sigma2 * math.sqrt(2 / w.numel())
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))


def test_build_model_equals_nn_sequential_from_the_same_seed():
    torch.manual_seed(3)
    expected = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    model = build_model([["linear", 4, 3], ["relu"], ["linear", 3, 2, {"bias": False}]], seed=3)
    assert str(model) == str(expected)
    for ours, theirs in zip(model.state_dict().values(), expected.state_dict().values()):
        assert torch.equal(ours, theirs)


def test_build_model_rejects_unknown_layers():
    with pytest.raises(ValueError, match="unknown layer 'dense'"):
        build_model([["dense", 3, 4]])
