"""Optimizer step: course_lib.optim against torch.optim's CPU default (the single-tensor loop),
on a model of about 9.4M parameters, for every optimizer: time of one ``step()`` and peak
memory allocated during it."""

import contextlib
import os

import torch
from torch.profiler import ProfilerActivity, profile, record_function

import course_lib.optim as optim
from tests.benchmarks.timing import (
    load_note,
    markdown_table,
    method_note,
    paired_ratio,
    summary,
    verdict,
)

LAYERS = [(1024, 4096), (4096, 1024), (1024, 1024)]  # Linear(in, out): 9.45M parameters
EMBEDDING = (36_864, 256)  # 9.44M parameters, for SparseAdam
SPARSE_ROWS = 2048  # rows touched by one sparse gradient
OPTIONS = {"LBFGS": {"max_iter": 2, "history_size": 5}}
EXTRA_ROWS = [("SGD", {"momentum": 0.9})]  # beside every optimizer with its defaults
BUDGET = 1.5  # time, ours / torch's


def _dense_params(name: str, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    for fan_in, fan_out in LAYERS:
        params.append(torch.randn(fan_out, fan_in, generator=gen) / fan_in**0.5)
        if name != "Muon":  # Muon takes matrices only
            params.append(torch.randn(fan_out, generator=gen))
    return params


def _setup(module, name: str, options: dict):
    """An optimizer of ``module`` with gradients in place, and the call that steps it."""
    if name == "SparseAdam":
        gen = torch.Generator().manual_seed(0)
        weight = torch.nn.Parameter(torch.randn(EMBEDDING, generator=gen))
        rows = torch.randint(0, EMBEDDING[0], (1, SPARSE_ROWS), generator=gen)
        values = torch.randn(SPARSE_ROWS, EMBEDDING[1], generator=gen)
        weight.grad = torch.sparse_coo_tensor(rows, values, EMBEDDING, check_invariants=True)
        opt = module.SparseAdam([weight])
        return opt, opt.step
    params = [torch.nn.Parameter(p) for p in _dense_params(name)]
    opt = getattr(module, name)(params, **options)
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(p.shape, generator=gen) for p in params]
    if name != "LBFGS":
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        return opt, opt.step
    curvature = [g.abs().add_(0.1) for g in grads]

    def closure():  # a cheap ill-conditioned quadratic, 1/2 sum(c p^2): no autograd
        loss = 0.0
        for p, c in zip(params, curvature, strict=True):
            p.grad = c * p.detach()
            loss += 0.5 * p.grad.mul(p.detach()).sum().item()
        return torch.tensor(loss)

    return opt, lambda: opt.step(closure)


@contextlib.contextmanager
def _stderr_silenced():
    """The profiler's C++ side logs every start and stop to file descriptor 2; keep it out of
    the report."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _peak_bytes(step) -> int:
    """Peak of the bytes held by torch's CPU allocator during ``step()``, above the level at
    its start, from the profiler's allocation and free events.

    The profiler reports frees only of blocks allocated while it runs, so it runs for two
    steps and the second is measured: whatever the second step frees (its temporaries, or state
    that an optimizer replaces) was allocated in the first or during it."""
    activities = [ProfilerActivity.CPU]
    with _stderr_silenced(), profile(activities=activities, profile_memory=True) as prof:
        step()
        with record_function("measured step"):
            step()
    events = prof.profiler.kineto_results.events()
    (marker,) = [e for e in events if e.name() == "measured step"]
    start, end = marker.start_ns(), marker.start_ns() + marker.duration_ns()
    memory = sorted(
        (e.start_ns(), e.nbytes())
        for e in events
        if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU
    )
    level = sum(nbytes for t, nbytes in memory if t < start)
    base = peak = level
    for t, nbytes in memory:
        if start <= t <= end:
            level += nbytes
            peak = max(peak, level)
    return peak - base


def _measure(name: str, options: dict) -> list:
    ours, ours_step = _setup(optim, name, options)
    theirs, theirs_step = _setup(torch.optim, name, options)
    for step in (ours_step, theirs_step):  # state exists before anything is measured
        step()
    slow = name in ("Muon", "LBFGS")  # Muon: bfloat16 matrix products on a CPU
    paired = paired_ratio(ours_step, theirs_step, min_pairs=6 if slow else 12)
    peaks = [_peak_bytes(ours_step), _peak_bytes(theirs_step)]
    largest = max(p.numel() * p.element_size() for g in theirs.param_groups for p in g["params"])
    extra = (peaks[0] - peaks[1]) / largest
    label = name + "".join(f" ({k}={v})" for k, v in options.items() if name != "LBFGS")
    return [
        label,
        paired.ours_s * 1e3,
        paired.theirs_s * 1e3,
        *paired.cells(),
        verdict(paired, BUDGET),
        *(b / 2**20 for b in peaks),
        extra,
    ]


def main() -> str:
    names = sorted(name for name in optim.__all__ if isinstance(getattr(optim, name), type))
    runs = [(name, OPTIONS.get(name, {})) for name in names] + EXTRA_ROWS
    load = os.getloadavg()
    rows = [_measure(name, options) for name, options in runs]
    header = [
        "optimizer",
        "ours ms",
        "torch ms",
        "ratio, wall [95% CI]",
        "ratio, CPU [95% CI]",
        "pairs",
        f"within {BUDGET}x",
        "ours peak MiB",
        "torch peak MiB",
        "extra (largest params)",
    ]
    n_params = sum(i * o + o for i, o in LAYERS)
    over_memory = ", ".join(row[0] for row in rows if row[-1] > 1.01) or "none"
    return "\n".join(
        [
            "## Optimizers: one `step()` on CPU",
            "",
            f"torch {torch.__version__}; {load_note(load)} Dense "
            f"model: Linear layers {LAYERS} ({n_params / 1e6:.2f}M parameters, largest "
            f"{LAYERS[0][0] * LAYERS[0][1] / 1e6:.2f}M; Muon gets the three weight matrices "
            f"only); SparseAdam: an embedding {EMBEDDING} with a gradient of {SPARSE_ROWS} "
            "rows; LBFGS: `max_iter=2`, `history_size=5` on a cheap closure "
            "(a quadratic with its gradient written directly). Torch runs its CPU default, "
            "the single-tensor loop. Time of one `step()`, after the state exists: "
            f"{method_note()} *ms*: the median step of each side. Peak: the highest "
            "level of bytes held by torch's CPU allocator during one `step()`, above the "
            "level at its start, from `torch.profiler` allocation and free events "
            "(`profile_memory=True`); it counts every tensor allocated by the step "
            "(temporaries, new state, new parameters) and nothing allocated before it. "
            "*extra*: (ours - torch) / bytes of the largest parameter.",
            "",
            markdown_table(header, rows),
            "",
            summary([(row[0], row[6]) for row in rows]) + " Over the memory budget (more than "
            f"one largest parameter beyond torch): {over_memory}.",
        ]
    )


if __name__ == "__main__":
    print(main())
