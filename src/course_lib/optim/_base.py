r"""The shell shared by the optimizers: one loop over param groups that calls a pure update.

Every optimizer of :mod:`course_lib.optim` (except :class:`~course_lib.optim.LBFGS`, which works
on all parameters at once) is a pure function for one tensor,

.. code-block:: python

    new_param, new_state = adam_update(param, grad, state, lr=..., betas=..., ...)

and a few lines of class: the hyperparameters it reads from each param group, the initial state
(torch's keys and dtypes) and the checks of its constructor. :class:`TensorwiseOptimizer` does
the rest, exactly in torch's order: evaluate the closure, then for each param group check the
gradients and create missing state, then update each parameter and write the results back
under ``torch.no_grad()``. ``param_groups``, ``add_param_group``, ``zero_grad``, ``state_dict``
and ``load_state_dict`` are :class:`torch.optim.Optimizer`'s own, so a state dict moves freely
between these optimizers and torch's.
"""

from collections.abc import Callable

import torch
from torch import Tensor
from torch.optim import Optimizer

from course_lib.regularization import coupled_weight_decay, decoupled_weight_decay


def step_counter(value: float = 0.0) -> Tensor:
    """The ``step`` entry of a state as torch makes it: a 0-dim CPU tensor, float32 (float64
    when that is the default dtype).

    >>> step_counter()
    tensor(0.)
    """
    dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    return torch.tensor(value, dtype=dtype)


def scalar(value: float | Tensor) -> float:
    """A hyperparameter as a Python number (torch also accepts a 1-element tensor ``lr``)."""
    return value.item() if isinstance(value, Tensor) else value


def zero_state(param: Tensor, *names: str) -> dict:
    """A fresh state: a zero ``step`` counter, then a zero tensor shaped like ``param`` for
    each name (the order of torch's keys)."""
    zeros = {name: torch.zeros_like(param, memory_format=torch.preserve_format) for name in names}
    return {"step": step_counter(), **zeros}


def check(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok``: the error torch raises for a bad
    hyperparameter."""
    if not ok:
        raise ValueError(message)


def check_lr(lr: float | Tensor, *, positive: bool = False) -> None:
    """Torch's checks of a learning rate: a 1-element tensor or a number, ``>= 0`` (``> 0``
    with ``positive``)."""
    check(not isinstance(lr, Tensor) or lr.numel() == 1, "Tensor lr must be 1-element")
    if positive:
        check(0.0 < lr, f"Invalid learning rate: {lr} (lr must be > 0)")
    else:
        check(0.0 <= lr, f"Invalid learning rate: {lr} (lr must be >= 0)")


def check_nonnegative(value: float, what: str) -> None:
    """``Invalid <what> value: <value>`` unless ``value >= 0``."""
    check(0.0 <= value, f"Invalid {what} value: {value} ({what} must be >= 0)")


def check_betas(betas: tuple[float, float]) -> None:
    """Both decay rates of the moment estimates must lie in :math:`[0, 1)`."""
    for index, beta in enumerate(betas):
        check(
            0.0 <= beta < 1.0,
            f"Invalid beta parameter at index {index}: {beta} (betas must lie in [0, 1))",
        )


def check_production_flags(**flags) -> None:
    """``foreach``, ``fused``, ``capturable`` and ``differentiable`` select torch's production
    implementations; course_lib writes out only the single-tensor loop."""
    for name, value in flags.items():
        check(
            not value,
            f"{name}={value!r} is not supported: course_lib implements only the single-tensor "
            f"for-loop; leave {name} at its default (use torch.optim for {name} kernels)",
        )


class TensorwiseOptimizer(Optimizer):
    """A :class:`torch.optim.Optimizer` whose ``step`` applies a pure per-tensor update.

    A subclass sets ``_update`` (the pure function), ``_options`` (the param-group entries it
    takes as keyword arguments) and ``_init_state`` (torch's initial state for a parameter).
    """

    _update: Callable[..., tuple[Tensor, dict]]
    _options: tuple[str, ...] = ()
    _sparse_grads = False  # whether sparse gradients are allowed

    def _init_state(self, param: Tensor, group: dict) -> dict:
        """The state of a parameter before its first step (empty: created by the update)."""
        return {}

    def _decays_separately(self, group: dict) -> bool:
        """Whether decoupled weight decay is applied to the parameter before the update: the
        same arithmetic as inside the update, without holding a decayed copy beside its
        moments."""
        return bool(group.get("decoupled_weight_decay", False)) and group["weight_decay"] != 0

    def _check_param(self, param: Tensor) -> None:
        name = type(self).__name__
        if torch.is_complex(param):
            raise RuntimeError(f"{name} of course_lib does not support complex parameters")
        if param.grad.is_sparse and not self._sparse_grads:
            raise RuntimeError(
                f"{name} does not support sparse gradients; SparseAdam, SGD and Adagrad do"
            )

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns
        the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for param in params:
                self._check_param(param)
                if not self.state.get(param):
                    initial = self._init_state(param, group)
                    if initial:
                        self.state[param] = initial
            options = {name: group[name] for name in self._options}
            if "lr" in options:
                options["lr"] = scalar(options["lr"])
            for param in params:
                self._step_param(param, group, options)
        return loss

    def _step_param(self, param: Tensor, group: dict, options: dict) -> None:
        state = self.state.get(param, {})
        if self._decays_separately(group):
            lr = options["lr"]
            decayed = decoupled_weight_decay(param, lr=lr, weight_decay=group["weight_decay"])
            _write_param(param, decayed, state)
            options = {**options, "weight_decay": 0}
        new_param, new_state = self._update(param, param.grad, state, **options)
        _write_param(param, new_param, state, new_state)
        if new_state:
            target = self.state[param]
            for key, value in new_state.items():
                if _is_rows(value) and key in target and not target[key].is_sparse:
                    self._write(target[key], value)
                else:
                    target[key] = value

    @staticmethod
    def _write(target: Tensor, value: Tensor) -> None:
        """Copy a result into ``target``: all of it, or, for a sparse result, only the entries
        it lists (the rows a sparse gradient touched)."""
        if _is_rows(value):
            target.index_put_(tuple(value._indices()), value._values())
        else:
            target.copy_(value)


def _write_param(param: Tensor, value: Tensor, *states: dict) -> None:
    """Make ``value`` the parameter's value, keeping the parameter object (and so its
    ``grad``, hooks and identity in every param group and state dict).

    A fresh result that nothing else holds is handed over with ``set_``: the parameter takes
    its memory and the old memory is freed, with no copy (torch updates in place, with one
    pass over memory; a copy would make it two). When anything else sees the parameter's
    memory (a view, a ``.data`` alias, an autograd graph) or the result's (a state tensor, the
    gradient), the result is copied in, so that all of them see the new value, as they would
    with torch's in-place update.
    """
    if _is_rows(value):
        TensorwiseOptimizer._write(param, value)
    elif _alone(param) and _alone(value) and _same_layout(param, value) and not any(
        value is tensor for state in states for tensor in state.values()
    ):
        param.set_(value)
    else:
        param.copy_(value)


def _alone(tensor: Tensor) -> bool:
    """Whether no other tensor, view or autograd record uses ``tensor`` or its memory (the
    storage's count includes the probe ``untyped_storage()`` makes)."""
    storage_users = torch._C._storage_Use_Count(tensor.untyped_storage()._cdata)
    return tensor._use_count() == 1 and storage_users == 2


def _same_layout(param: Tensor, value: Tensor) -> bool:
    return (
        value.dtype == param.dtype
        and value.device == param.device
        and value.shape == param.shape
        and value.stride() == param.stride()
        and value.storage_offset() == param.storage_offset() == 0
    )


def _is_rows(value: object) -> bool:
    return isinstance(value, Tensor) and value.is_sparse


def apply_weight_decay(
    param: Tensor, grad: Tensor, *, lr: float, weight_decay: float, decoupled: bool
) -> tuple[Tensor, Tensor]:
    r"""Compose the chosen weight decay into ``(param, grad)``: decoupled shrinks
    :math:`\theta` by :math:`(1 - \eta\lambda)`, otherwise :math:`\lambda\theta` joins
    :math:`g` (L2 in the gradient). Out of place, like the two pieces it calls."""
    if weight_decay == 0:
        return param, grad
    if decoupled:
        return decoupled_weight_decay(param, lr=lr, weight_decay=weight_decay), grad
    return param, coupled_weight_decay(grad, param, weight_decay)


def rows_of(tensor: Tensor, grad: Tensor) -> Tensor:
    """The entries of a dense ``tensor`` where the coalesced sparse ``grad`` has values, in
    the order of ``grad``'s values (one row per index for an embedding's gradient)."""
    return tensor.sparse_mask(grad)._values()


def as_rows(grad: Tensor, values: Tensor) -> Tensor:
    """A sparse result: new ``values`` for the entries of the coalesced sparse ``grad``; the
    optimizer writes only these entries back (:meth:`TensorwiseOptimizer._write`)."""
    return torch.sparse_coo_tensor(
        grad._indices(), values, grad.shape, is_coalesced=True, check_invariants=False
    )
