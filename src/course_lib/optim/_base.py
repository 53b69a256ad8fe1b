r"""The shell shared by the optimizers: one loop over param groups that calls a pure update.

Every optimizer of :mod:`course_lib.optim` (except :class:`~course_lib.optim.LBFGS`, which works
on all parameters at once) is a pure function for one tensor,

.. code-block:: python

    new_param, new_state = adam_update(param, grad, state, lr=..., betas=..., ...)

and a few lines of class: the hyperparameters it reads from each param group, the initial state
(torch's keys and dtypes) and the checks of its constructor. :class:`TensorwiseOptimizer` does
the rest, exactly in torch's order: evaluate the closure, then for each param group check the
gradients and create missing state, then update each parameter and copy the results back into
the parameter and its state tensors under ``torch.no_grad()`` (in place, as torch does, so they
keep their memory). Large tensors of an elementwise update go through the pure function in
blocks, so that the new tensors it returns cost a block of memory, not a parameter's
(:meth:`TensorwiseOptimizer._splitter`). An optimizer whose pure update makes more passes over
memory than torch's in-place loop (every elementwise one but Rprop, and SparseAdam) also
writes the same update out in place, op for op as torch's single-tensor loop
(:meth:`TensorwiseOptimizer._update_in_place`); tests prove it bit-identical to the pure
update, which stays the definition.
``param_groups``, ``add_param_group``, ``zero_grad``, ``state_dict`` and ``load_state_dict``
are :class:`torch.optim.Optimizer`'s own, so a state dict moves freely between these optimizers
and torch's.
"""

from collections.abc import Callable, Sequence

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
    r"""A :class:`torch.optim.Optimizer` whose ``step`` applies a pure per-tensor update.

    A subclass sets ``_update`` (the pure function), ``_options`` (the param-group entries it
    takes as keyword arguments) and ``_init_state`` (torch's initial state for a parameter);
    it may also set ``_in_place``, the same update written into the parameter and its state
    tensors (:meth:`_update_in_place`).
    """

    _update: Callable[..., tuple[Tensor, dict]]
    # _update written in place: f(param, grad, state, **options) -> None, or None.
    _in_place: Callable[..., None] | None = None
    _options: tuple[str, ...] = ()
    _sparse_grads = False  # whether sparse gradients are allowed

    def __init_subclass__(cls, **kwargs) -> None:
        """A subclass that replaces ``_update`` but not ``_in_place`` (say, SGD with clipped
        steps) gets its own update applied, not the inherited in-place form of another."""
        super().__init_subclass__(**kwargs)
        if "_update" in vars(cls) and "_in_place" not in vars(cls):
            cls._in_place = None

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
        """Update ``param`` and its state in place: with the in-place form of the update where
        there is one (:meth:`_update_in_place`), else block by block (:meth:`_splitter`), the
        pure update's results for a block copied into the block's views."""
        state = self.state.get(param, {})
        if self._in_place is not None:
            self._update_in_place(param, state, options)
        else:
            self._update_blocks(param, state, group, options)
        if state:  # torch keeps no entry for a parameter without state (SGD without momentum)
            self.state[param] = state

    def _update_in_place(self, param: Tensor, state: dict, options: dict) -> None:
        r"""Write the update into ``param`` and ``state`` with ``_in_place``: the pure update
        written out with torch's in-place kernels, op for op as torch's single-tensor loop, on
        whole tensors.

        Why: a pure update returns a new parameter and new state tensors, and copying them back
        is one more pass over memory per tensor; where torch's step makes a few passes (SGD,
        ASGD, Adamax, ...), the copies and new tensors cost up to half the step again.
        Whole tensors, as in torch: one kernel per operation, where blocks would start one per
        block and wait for every thread of each on a busy machine."""
        self._in_place(param, param.grad, state, **options)

    def _update_blocks(self, param: Tensor, state: dict, group: dict, options: dict) -> None:
        """The pure update, block by block (:meth:`_splitter`), each block's results written
        back into its views; state that the first step creates is allocated whole."""
        decay = group["weight_decay"] if self._decays_separately(group) else 0
        if decay:
            options = {**options, "weight_decay": 0}
        split = self._splitter(param, state)
        pieces, grads = split(param), split(param.grad)
        blocked = {key: split(value) for key, value in state.items() if _shaped_like(value, param)}
        created, deferred = {}, {}
        for i, piece in enumerate(pieces):
            old = {key: blocked[key][i] if key in blocked else v for key, v in state.items()}
            if decay:
                lr = options["lr"]
                piece.copy_(decoupled_weight_decay(piece, lr=lr, weight_decay=decay))
            new_param, new_state = self._update(piece, grads[i], old, **options)
            self._write(piece, new_param)
            for key, value in new_state.items():
                if len(pieces) == 1 or not _shaped_like(value, piece):
                    deferred[key] = value  # the whole tensor, or one value for all blocks (step)
                    continue
                if key not in blocked:  # created by the first step
                    created[key] = torch.empty_like(param)
                    blocked[key] = split(created[key])
                self._write(blocked[key][i], value)
        _store(state, deferred)
        state.update(created)

    # Whether the update treats every entry on its own, so that blocks of a tensor can be updated
    # apart; a subclass opts in (a norm-based update such as LARS or LAMB must not).
    _elementwise = False
    _block_numel = 2**18

    def _splitter(self, param: Tensor, state: dict) -> Callable[[Tensor], Sequence[Tensor]]:
        """How the update runs: on whole tensors, or, for an elementwise update of a large
        dense tensor, on blocks of ``_block_numel`` entries of the flattened tensors (views).

        Why blocks: a pure update returns new tensors, so it briefly holds a second copy of
        the parameter and of each state tensor it changes, and writing them back is a second
        pass over memory; torch's in-place kernels need neither. Blocks of 1 MB (float32) bound
        the copies by a block, and keep the results in cache until they are written back. An
        elementwise update gives each entry the same result in any block, in float32 and
        float64; torch's float16 and bfloat16 kernels round a tensor's tail differently from its
        body, so that their results depend on where a tensor is cut, and those take whole
        tensors, as torch does.
        """
        tensors = [param, param.grad, *(v for v in state.values() if _shaped_like(v, param))]
        whole = (
            not self._elementwise
            or param.device.type != "cpu"  # a GPU is better served by a few large kernels
            or param.dtype not in (torch.float32, torch.float64)
            or param.numel() <= self._block_numel
            or any(t.is_sparse or not t.is_contiguous() for t in tensors)
        )
        if whole:
            return lambda tensor: (tensor,)
        return lambda tensor: tensor.view(-1).split(self._block_numel)

    @staticmethod
    def _write(target: Tensor, value: Tensor) -> None:
        """Copy a result into ``target``: all of it, or, for a sparse result, only the entries
        it lists (the rows a sparse gradient touched)."""
        if _is_rows(value):
            target.index_put_(tuple(value._indices()), value._values())
        else:
            target.copy_(value)


def _shaped_like(value: object, like: object) -> bool:
    """Whether ``value`` is a dense tensor of the shape of the tensor ``like``."""
    return (
        isinstance(value, Tensor)
        and isinstance(like, Tensor)
        and not value.is_sparse
        and value.shape == like.shape
    )


def _store(state: dict, values: dict) -> None:
    """Write each new state value into the tensor it replaces where it fits (so the state
    tensor keeps its memory, as in torch), else make it the state entry."""
    for key, value in values.items():
        if _writable(state.get(key), value):
            TensorwiseOptimizer._write(state[key], value)
        else:
            state[key] = value


def _writable(current: object, value: Tensor) -> bool:
    """Whether ``value`` can be written into the existing state entry ``current`` (a dense
    tensor of its dtype, and of its shape unless ``value`` lists rows)."""
    return (
        isinstance(current, Tensor)
        and isinstance(value, Tensor)
        and not current.is_sparse
        and (value.dtype, value.device) == (current.dtype, current.device)
        and (_is_rows(value) or _shaped_like(value, current))
    )


def _is_rows(value: object) -> bool:
    return isinstance(value, Tensor) and value.is_sparse


def descend(param: Tensor, direction: Tensor, *, lr: float) -> Tensor:
    r"""A step of size :math:`\eta` along :math:`-d`: :math:`\theta - \eta d`, out of place.

    >>> descend(torch.tensor([1.0, 2.0]), torch.tensor([0.5, -1.0]), lr=0.1)
    tensor([0.9500, 2.1000])
    """
    return param.add(direction, alpha=-lr)


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


def sparse_like(grad: Tensor, values: Tensor) -> Tensor:
    """A sparse tensor of ``values`` at the entries of the coalesced sparse ``grad``, built as
    torch's sparse optimizer loops build theirs: not flagged coalesced, so that a dense
    ``add_(..., alpha=a)`` of it rounds as theirs does (the coalesced kernel rounds
    :math:`\theta + a x` differently in the last bit)."""
    return torch.sparse_coo_tensor(grad._indices(), values, grad.shape, check_invariants=False)
