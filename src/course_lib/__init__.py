"""Reference implementation of the course "Training Neural Networks with PyTorch".

Every module mirrors a part of torch with torch's own API, written out so that the math is
visible, and is tested against torch itself:

- ``course_lib.init``            ``torch.nn.init``
- ``course_lib.activations``     softmax's Jacobian, the gain of any activation (Monte Carlo)
- ``course_lib.modules``         dropout that follows eval(), distinct units, model.apply init
- ``course_lib.losses``          the losses of ``torch.nn.functional`` and ``torch.nn``
- ``course_lib.optim``           ``torch.optim``
- ``course_lib.schedulers``      ``torch.optim.lr_scheduler`` and the LR range test
- ``course_lib.regularization``  penalties, weight decay, dropout
- ``course_lib.data``            datasets that ship with installed packages, seeded synthetic data
- ``course_lib.train``           a small training loop and per-layer statistics
- ``course_lib.plots``           the figures of the book
- ``course_lib.grading``         the checks that autograde the exercises

Submodules are imported on first use (``course_lib.init`` works after ``import course_lib``),
so importing the package has no side effects and stays fast.
"""

import importlib

import torch

__all__ = [
    "activations",
    "data",
    "device",
    "grading",
    "init",
    "losses",
    "modules",
    "optim",
    "plots",
    "regularization",
    "schedulers",
    "train",
]

_SUBMODULES = frozenset(__all__) - {"device"}


def device() -> torch.device:
    """The device the course computes on: the first CUDA GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
