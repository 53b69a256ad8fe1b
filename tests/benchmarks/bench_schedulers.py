"""Overhead of ``scheduler.step()`` for every course_lib scheduler against torch's own.

Each case builds the same scheduler on two identical SGD optimizers (4 param groups), steps
each optimizer once (so no step-order warning is involved), then times blocks of ``STEPS``
``scheduler.step()`` calls for ours and for ``torch.optim.lr_scheduler``'s in back-to-back
pairs until the interval of the median ratio is narrow (``timing.paired_ratio``). Both keep
stepping the same object, so the timed steps walk through warm-up, decay and restarts alike.
Steps take microseconds, so on a busy machine separate medians swing; the budget is judged on
the interval of the paired ratio (``timing.verdict``), which load changes affect least.
Budget: 1.5x torch."""

import os

import torch
from torch.optim import lr_scheduler as theirs

from course_lib import schedulers as ours

from .timing import load_note, markdown_table, method_note, paired_ratio, summary, verdict

GROUPS, STEPS, BUDGET = 4, 2000, 1.5
LONG = 10**6  # OneCycleLR must not run out of steps while being timed

CASES = {
    "LambdaLR": lambda M, o: M.LambdaLR(o, lambda e: 0.99**e),
    "MultiplicativeLR": lambda M, o: M.MultiplicativeLR(o, lambda e: 0.9999),
    "StepLR": lambda M, o: M.StepLR(o, step_size=30, gamma=0.9),
    "MultiStepLR": lambda M, o: M.MultiStepLR(o, milestones=[100, 5000, 20000], gamma=0.5),
    "ConstantLR": lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=100),
    "LinearLR": lambda M, o: M.LinearLR(o, start_factor=0.1, total_iters=LONG),
    "ExponentialLR": lambda M, o: M.ExponentialLR(o, gamma=0.99999),
    "PolynomialLR": lambda M, o: M.PolynomialLR(o, total_iters=LONG, power=2.0),
    "CosineAnnealingLR": lambda M, o: M.CosineAnnealingLR(o, T_max=500, eta_min=1e-4),
    "CosineAnnealingWarmRestarts": lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2),
    "CyclicLR": lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=200),
    "OneCycleLR": lambda M, o: M.OneCycleLR(o, max_lr=0.5, total_steps=LONG),
    "ReduceLROnPlateau": lambda M, o: M.ReduceLROnPlateau(o, patience=3, cooldown=2),
    "SequentialLR": lambda M, o: M.SequentialLR(
        o,
        [M.LinearLR(o, start_factor=0.1, total_iters=100), M.CosineAnnealingLR(o, T_max=500)],
        [100],
    ),
    "ChainedScheduler": lambda M, o: M.ChainedScheduler(
        [M.ConstantLR(o, factor=0.5, total_iters=100), M.ExponentialLR(o, gamma=0.99999)]
    ),
}


def _stepper(name, module):
    """A function doing STEPS scheduler steps (with a metric for ReduceLROnPlateau)."""
    params = [torch.zeros(1, requires_grad=True) for _ in range(GROUPS)]
    optimizer = torch.optim.SGD(
        [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=0.1, momentum=0.9
    )
    scheduler = CASES[name](module, optimizer)
    optimizer.step()
    if name == "ReduceLROnPlateau":
        metrics = [1.0 / (1 + t % 7) for t in range(STEPS)]

        def run():
            for metric in metrics:
                scheduler.step(metric)

        return run

    def run():
        for _ in range(STEPS):
            scheduler.step()

    return run


def main() -> str:
    load = os.getloadavg()
    rows = []
    for name in CASES:
        paired = paired_ratio(_stepper(name, ours), _stepper(name, theirs))
        us = (1e6 * paired.ours_s / STEPS, 1e6 * paired.theirs_s / STEPS)
        rows.append([name, *us, *paired.cells(), verdict(paired, BUDGET)])
    table = markdown_table(
        [
            "scheduler",
            "ours (us/step)",
            "torch (us/step)",
            "ratio, wall [95% CI]",
            "ratio, CPU [95% CI]",
            "pairs",
            f"within {BUDGET}x",
        ],
        rows,
    )
    return (
        f"## Schedulers: `scheduler.step()` overhead vs torch\n\n{GROUPS} param groups, "
        f"blocks of {STEPS} steps. {load_note(load)} {method_note()}\n\n{table}\n\n"
        + summary([(row[0], row[-1]) for row in rows])
    )
