r"""``torch.optim`` written out: every optimizer of torch 2.13, step for step.

Each optimizer is a pure update for one tensor, ``new_param, new_state = <name>_update(param,
grad, state, *, <hyperparameters>)``, with its rule in the docstring, and a class with torch's
name, signature, defaults and state keys that subclasses :class:`torch.optim.Optimizer`, so
param groups, ``zero_grad``, ``state_dict``, ``load_state_dict``, hooks and every
``torch.optim.lr_scheduler`` work as with torch's optimizers. SGD's update is two named
pieces, :func:`sgd_direction` and :func:`descend`. The classes of the elementwise optimizers
(all but Rprop) and SparseAdam also write their update out in place, op for op as torch's
loop, tested bit-identical to the pure update (fewer passes over memory than a new parameter
copied back).
L-BFGS, which needs all parameters and a closure, is a class with pure helpers
(:func:`two_loop_direction`, :func:`strong_wolfe`, :func:`cubic_interpolate`).

Weight decay is one of the two named pieces of :mod:`course_lib.regularization`: L2 in the
gradient (``coupled_weight_decay``) or decoupled (``decoupled_weight_decay``, AdamW).

Only torch's single-tensor for-loop is written out: ``foreach``, ``fused``, ``capturable`` and
``differentiable`` are accepted at their defaults and rejected with a ``ValueError`` when set.

>>> import torch
>>> model = torch.nn.Linear(3, 1)
>>> opt = Adam(model.parameters(), lr=1e-2)
>>> model(torch.ones(2, 3)).pow(2).mean().backward()
>>> opt.step()
>>> opt.zero_grad()
>>> sorted(opt.state_dict()["state"][0])
['exp_avg', 'exp_avg_sq', 'step']
"""

from course_lib.optim._base import descend
from course_lib.optim.adafactor import Adafactor, adafactor_update
from course_lib.optim.adam import Adam, Adamax, AdamW, adam_update, adamax_update, adamw_update
from course_lib.optim.adam_variants import NAdam, RAdam, nadam_update, radam_update
from course_lib.optim.adaptive import (
    Adadelta,
    Adagrad,
    RMSprop,
    adadelta_update,
    adagrad_update,
    rmsprop_update,
)
from course_lib.optim.asgd import ASGD, asgd_update
from course_lib.optim.lbfgs import LBFGS, cubic_interpolate, strong_wolfe, two_loop_direction
from course_lib.optim.muon import Muon, adjusted_lr, muon_update, newton_schulz
from course_lib.optim.rprop import Rprop, rprop_update
from course_lib.optim.sgd import SGD, sgd_direction, sgd_update
from course_lib.optim.sparse_adam import SparseAdam, sparse_adam_update

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Muon",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SparseAdam",
    "adadelta_update",
    "adafactor_update",
    "adagrad_update",
    "adam_update",
    "adamax_update",
    "adamw_update",
    "adjusted_lr",
    "asgd_update",
    "cubic_interpolate",
    "descend",
    "muon_update",
    "nadam_update",
    "newton_schulz",
    "radam_update",
    "rmsprop_update",
    "rprop_update",
    "sgd_direction",
    "sgd_update",
    "sparse_adam_update",
    "strong_wolfe",
    "two_loop_direction",
]
