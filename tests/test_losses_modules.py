"""The nn.Module losses against torch.nn's (same constructor, attributes, buffers, values,
gradients), signatures against torch's, and the proof that no loss calls torch's own."""

import inspect
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import losses
from tests.test_losses_common import LOSS_NAMES, assert_same_as_torch, generator

DEPRECATED = {"size_average", "reduce"}


def _inputs(name: str, device):
    """Valid float64 inputs for the loss (function or module) ``name``, and the positions of
    the inputs to differentiate."""
    g = generator(len(name))
    x = torch.randn(4, 5, generator=g, dtype=torch.float64)
    y = torch.randn(4, 5, generator=g, dtype=torch.float64)
    probs = torch.rand(4, 5, generator=g, dtype=torch.float64) * 0.9 + 0.05
    labels = torch.randint(5, (4,), generator=g)
    signs = torch.randint(2, (4,), generator=g).double() * 2 - 1
    table = {
        "cross_entropy": ((x, labels), (0,)), "nll_loss": ((x, labels), (0,)),
        "binary_cross_entropy": ((probs, probs.flip(0)), (0, 1)),
        "binary_cross_entropy_with_logits": ((x, probs), (0, 1)),
        "l1_loss": ((x, y), (0, 1)), "mse_loss": ((x, y), (0, 1)),
        "smooth_l1_loss": ((x, y), (0, 1)), "huber_loss": ((x, y), (0, 1)),
        "poisson_nll_loss": ((x, probs * 4), (0, 1)),
        "gaussian_nll_loss": ((x, y, probs), (0, 1, 2)),
        "kl_div": ((x.log_softmax(1), probs), (0, 1)),
        "margin_ranking_loss": ((x[:, 0], y[:, 0], signs), (0, 1)),
        "hinge_embedding_loss": ((x.abs(), signs.view(4, 1).expand(4, 5)), (0,)),
        "soft_margin_loss": ((x, signs.view(4, 1).expand(4, 5)), (0,)),
        "multilabel_soft_margin_loss": ((x, probs.round()), (0, 1)),
        "multi_margin_loss": ((x, labels), (0,)),
        "multilabel_margin_loss": ((x, torch.tensor([[3, 0, -1, 1, 2]] * 4)), (0,)),
        "cosine_embedding_loss": ((x, y, signs), (0, 1)),
        "triplet_margin_loss": ((x, y, x.flip(0)), (0, 1, 2)),
        "triplet_margin_with_distance_loss": ((x, y, x.flip(0)), (0, 1, 2)),
        "ctc_loss": (
            (x.view(2, 2, 5).log_softmax(2), torch.tensor([[1, 2], [3, 3]]), [2, 2], [2, 1]), ()
        ),
    }
    args, grad = table[name]
    return tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args), grad


w5 = torch.rand(5, dtype=torch.float64)
MODULES = {  # class name: (function name, constructor keyword arguments)
    "CrossEntropyLoss": ("cross_entropy", {
        "weight": w5, "ignore_index": 2, "label_smoothing": 0.1, "reduction": "sum"}),
    "NLLLoss": ("nll_loss", {"weight": w5, "ignore_index": 1}),
    "BCELoss": ("binary_cross_entropy", {"weight": w5, "reduction": "none"}),
    "BCEWithLogitsLoss": ("binary_cross_entropy_with_logits", {"weight": w5, "pos_weight": w5 * 3}),
    "L1Loss": ("l1_loss", {"reduction": "sum"}),
    "MSELoss": ("mse_loss", {"reduction": "none"}),
    "SmoothL1Loss": ("smooth_l1_loss", {"beta": 0.5}),
    "HuberLoss": ("huber_loss", {"delta": 0.5, "reduction": "sum"}),
    "PoissonNLLLoss": ("poisson_nll_loss", {"log_input": True, "full": True, "eps": 1e-6}),
    "GaussianNLLLoss": ("gaussian_nll_loss", {"full": True, "eps": 1e-3}),
    "KLDivLoss": ("kl_div", {"reduction": "batchmean", "log_target": False}),
    "MarginRankingLoss": ("margin_ranking_loss", {"margin": 0.3}),
    "HingeEmbeddingLoss": ("hinge_embedding_loss", {"margin": 2.0}),
    "SoftMarginLoss": ("soft_margin_loss", {"reduction": "sum"}),
    "MultiLabelSoftMarginLoss": ("multilabel_soft_margin_loss", {"weight": w5}),
    "MultiMarginLoss": ("multi_margin_loss", {"p": 2, "margin": 0.5, "weight": w5}),
    "MultiLabelMarginLoss": ("multilabel_margin_loss", {"reduction": "none"}),
    "CosineEmbeddingLoss": ("cosine_embedding_loss", {"margin": 0.2}),
    "TripletMarginLoss": ("triplet_margin_loss", {
        "margin": 0.5, "p": 1.0, "eps": 1e-3, "swap": True}),
    "TripletMarginWithDistanceLoss": ("triplet_margin_with_distance_loss", {
        "margin": 0.5, "swap": True}),
    "CTCLoss": ("ctc_loss", {"blank": 0, "reduction": "sum", "zero_infinity": True}),
}


def _buffers_to(kwargs: dict, device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("class_name", list(MODULES))
def test_module_matches_torch(device, class_name):
    function_name, kwargs = MODULES[class_name]
    kwargs = _buffers_to(kwargs, device)
    ours, theirs = getattr(losses, class_name)(**kwargs), getattr(nn, class_name)(**kwargs)
    args, grad = _inputs(function_name, device)
    assert_same_as_torch(ours, theirs, args, grad=grad)
    for attribute in kwargs.keys() | {"reduction"}:
        assert getattr(ours, attribute) is getattr(theirs, attribute) or torch.equal(
            getattr(ours, attribute), getattr(theirs, attribute)
        )
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())


@pytest.mark.parametrize("class_name", list(MODULES))
def test_module_defaults_match_torch(class_name):
    ours, theirs = getattr(losses, class_name)(), getattr(nn, class_name)()
    for attribute, value in vars(theirs).items():
        if not attribute.startswith("_") and attribute not in ("training", "distance_function"):
            assert getattr(ours, attribute) == value, attribute
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_module_is_an_nn_module_with_buffers(device):
    criterion = losses.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 3.0]))
    assert isinstance(criterion, nn.Module)
    assert [name for name, _ in criterion.named_buffers()] == ["weight"]
    assert criterion.to(device).weight.device.type == torch.device(device).type


BAD_CONSTRUCTORS = {
    "MultiMarginLoss p=3": ("MultiMarginLoss", {"p": 3}),
    "MultiMarginLoss 2-D weight": ("MultiMarginLoss", {"weight": torch.ones(2, 2)}),
    "TripletMarginLoss margin 0": ("TripletMarginLoss", {"margin": 0.0}),
    "TripletMarginWithDistanceLoss margin -1": ("TripletMarginWithDistanceLoss", {"margin": -1.0}),
}


@pytest.mark.parametrize("case", list(BAD_CONSTRUCTORS))
def test_bad_constructor_arguments_raise_like_torch(case):
    class_name, kwargs = BAD_CONSTRUCTORS[case]
    with pytest.raises(ValueError):
        getattr(nn, class_name)(**kwargs)
    with pytest.raises(ValueError, match="expected|only p"):
        getattr(losses, class_name)(**kwargs)


def _parameters(function) -> list[tuple[str, object]]:
    return [
        (p.name, p.default)
        for p in inspect.signature(function).parameters.values()
        if p.name not in DEPRECATED
    ]


def _same_defaults(ours, theirs) -> bool:
    return [name for name, _ in ours] == [name for name, _ in theirs] and all(
        a == b or (a is None and b is None) for (_, a), (_, b) in zip(ours, theirs, strict=True)
    )


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_function_signature_matches_torch(name):
    """Same names, order and defaults as torch, without size_average/reduce. Arguments that
    come after a deprecated one in torch are keyword-only here, so a positional call never
    binds differently."""
    ours, theirs = getattr(losses, name), getattr(F, name)
    assert _same_defaults(_parameters(ours), _parameters(theirs))
    theirs_positions = list(inspect.signature(theirs).parameters)
    for position, parameter in enumerate(inspect.signature(ours).parameters.values()):
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
            assert theirs_positions[position] == parameter.name


@pytest.mark.parametrize("class_name", list(MODULES))
def test_constructor_signature_matches_torch(class_name):
    ours, theirs = getattr(losses, class_name).__init__, getattr(nn, class_name).__init__
    assert _same_defaults(_parameters(ours), _parameters(theirs))


FORBIDDEN = {  # torch's own losses and the shortcuts the losses must write out themselves
    F: [n for n in dir(F) if n.endswith("_loss")] + [
        "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
        "kl_div", "log_softmax", "softmax", "softmin", "logsigmoid", "softplus",
        "pairwise_distance", "cosine_similarity",
    ],
    torch: [
        "ctc_loss", "kl_div", "binary_cross_entropy_with_logits", "hinge_embedding_loss",
        "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss", "poisson_nll_loss",
        "log_softmax", "softmax", "pairwise_distance", "cosine_similarity",
    ],
    torch.Tensor: ["log_softmax", "softmax"],
    torch.special: ["log_softmax", "softmax"],
    torch._C._nn: [
        "nll_loss", "nll_loss2d", "nll_loss_nd", "cross_entropy_loss", "binary_cross_entropy",
        "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss",
        "multilabel_margin_loss", "multi_margin_loss", "log_sigmoid", "softplus",
    ],
}


def test_no_loss_calls_torchs_own(monkeypatch):
    """Rule 4: with every torch loss and every log-softmax/softplus/log-sigmoid shortcut
    replaced by a function that raises, every loss still runs forward and backward and
    gives torch's values (computed before the replacement)."""
    inputs = {name: _inputs(name, "cpu")[0] for name in LOSS_NAMES}
    with pytest.warns(UserWarning, match="batchmean"):  # kl_div's default "mean"
        expected = {name: getattr(F, name)(*args) for name, args in inputs.items()}

    def forbidden(*args, **kwargs):
        raise AssertionError("a torch loss or log-softmax shortcut was called")

    for owner, names in FORBIDDEN.items():
        for name in names:
            monkeypatch.setattr(owner, name, forbidden)
    with pytest.raises(AssertionError):
        F.cross_entropy(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))
    for name, args in inputs.items():
        leaves = [
            a.clone().requires_grad_() if torch.is_tensor(a) and a.is_floating_point() else a
            for a in args
        ]
        with pytest.warns(UserWarning, match="batchmean") if name == "kl_div" else nullcontext():
            value = getattr(losses, name)(*leaves)
        value.backward()
        torch.testing.assert_close(value.detach(), expected[name], msg=name)
        grads = [leaf.grad for leaf in leaves if torch.is_tensor(leaf) and leaf.requires_grad]
        assert all(grad.isfinite().all() for grad in grads if grad is not None)
