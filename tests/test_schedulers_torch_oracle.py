"""course_lib.schedulers against torch.optim.lr_scheduler: the same configuration on two
identical optimizers (three param groups) must give IDENTICAL learning-rate sequences (and
momenta / betas where a scheduler cycles them) for 300 steps; closed forms agree with the
chainable recurrences within a stated tolerance, exactly where they do the same arithmetic."""

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as theirs

from course_lib import schedulers as ours
from course_lib.schedulers import closed_form, cyclic, one_cycle, restarts

STEPS = 300
LRS = (0.1, 0.037, 1.3)


def make_optimizer(kind: str = "sgd", lrs=LRS, device="cpu") -> torch.optim.Optimizer:
    """An optimizer with one small parameter per group and the given learning rates."""
    groups = [
        {"params": [torch.zeros(2, device=device, requires_grad=True)], "lr": lr} for lr in lrs
    ]
    if kind == "adam":
        return torch.optim.Adam(groups, lr=0.1)
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9 if kind == "momentum" else 0.0)


def group_values(optimizer) -> list[tuple]:
    """Everything a scheduler may write into a param group: lr, momentum, beta1."""
    return [
        (float(g["lr"]), g.get("momentum"), g["betas"][0] if "betas" in g else None)
        for g in optimizer.param_groups
    ]


def run(build, module, *, kind="sgd", steps=STEPS, metrics=None, device="cpu"):
    """Build a scheduler with ``build(module, optimizer)`` and record get_last_lr() and the
    param groups after construction and after each of ``steps`` optimizer+scheduler steps."""
    optimizer = make_optimizer(kind, device=device)
    scheduler = build(module, optimizer)
    record = [(scheduler.get_last_lr(), group_values(optimizer))]
    for t in range(steps):
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[t])
        record.append((scheduler.get_last_lr(), group_values(optimizer)))
    return record


def _plateau_metrics() -> list[float]:
    """A validation-loss-like stream: falls, plateaus (flat, then noisy), falls again, rises."""
    noise = torch.rand(STEPS, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    flat = [1.0] * 40 + [0.5] * 60 + [0.5 + 1e-5 * i for i in range(50)]
    return (
        flat
        + [0.4 + 0.05 * float(n) for n in noise[: STEPS - len(flat) - 50]]
        + [0.3 - 0.001 * i for i in range(50)]
    )


PLATEAU_METRICS = _plateau_metrics()

CONFIGS = {
    "lambda": lambda M, o: M.LambdaLR(o, lambda e: 0.97**e),
    "lambda_per_group": lambda M, o: M.LambdaLR(
        o, [lambda e: 0.97**e, lambda e: 1.0 / (1 + e), lambda e: e // 30]
    ),
    "multiplicative": lambda M, o: M.MultiplicativeLR(o, lambda e: 0.95),
    "multiplicative_per_group": lambda M, o: M.MultiplicativeLR(
        o, [lambda e: 0.99, lambda e: 1.0 if e % 10 else 0.5, lambda e: 1 - 1e-3 * (e % 7)]
    ),
    "step_note002": lambda M, o: M.StepLR(o, step_size=4, gamma=0.5),
    "step": lambda M, o: M.StepLR(o, step_size=7, gamma=0.1),
    "step_growth": lambda M, o: M.StepLR(o, step_size=30, gamma=1.07),
    "multistep_note002": lambda M, o: M.MultiStepLR(o, milestones=[8, 24, 28], gamma=0.5),
    "multistep_repeated": lambda M, o: M.MultiStepLR(o, milestones=[50, 10, 10, 200], gamma=0.3),
    "constant": lambda M, o: M.ConstantLR(o),
    "constant_long": lambda M, o: M.ConstantLR(o, factor=0.1, total_iters=20),
    "constant_one": lambda M, o: M.ConstantLR(o, factor=1.0, total_iters=3),
    "linear": lambda M, o: M.LinearLR(o),
    "linear_warmup": lambda M, o: M.LinearLR(o, start_factor=0.05, total_iters=40),
    "linear_decay": lambda M, o: M.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=50),
    "linear_full": lambda M, o: M.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=300),
    "exponential_note002": lambda M, o: M.ExponentialLR(o, gamma=0.5),
    "exponential": lambda M, o: M.ExponentialLR(o, gamma=0.97),
    "polynomial": lambda M, o: M.PolynomialLR(o),
    "polynomial_square": lambda M, o: M.PolynomialLR(o, total_iters=100, power=2.0),
    "polynomial_sqrt": lambda M, o: M.PolynomialLR(o, total_iters=300, power=0.5),
    "cosine_note002": lambda M, o: M.CosineAnnealingLR(o, T_max=32, eta_min=1e-4),
    "cosine_short": lambda M, o: M.CosineAnnealingLR(o, T_max=7),
    "cosine_long": lambda M, o: M.CosineAnnealingLR(o, T_max=100, eta_min=1e-3),
    "warm_restarts": lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=10),
    "warm_restarts_mult": lambda M, o: M.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=1e-3
    ),
    "warm_restarts_mult3": lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3),
    "plateau": lambda M, o: M.ReduceLROnPlateau(o, patience=5),
    "plateau_cooldown_minlr": lambda M, o: M.ReduceLROnPlateau(
        o, factor=0.5, patience=3, cooldown=4, min_lr=[0.01, 0.0, 0.2]
    ),
    "plateau_abs": lambda M, o: M.ReduceLROnPlateau(
        o, factor=0.3, patience=0, threshold=1e-3, threshold_mode="abs", min_lr=1e-3
    ),
    "plateau_max": lambda M, o: M.ReduceLROnPlateau(o, mode="max", factor=0.7, patience=2),
    "plateau_max_abs_eps": lambda M, o: M.ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", patience=1, eps=0.05
    ),
}

CYCLIC_CONFIGS = {
    "cyclic_momentum": ("momentum", lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=7)),
    "cyclic_triangular2_beta1": (
        "adam",
        lambda M, o: M.CyclicLR(
            o, [0.01, 0.02, 0.001], 0.5, step_size_up=5, step_size_down=11, mode="triangular2"
        ),
    ),
    "cyclic_exp_range": (
        "momentum",
        lambda M, o: M.CyclicLR(
            o,
            0.001,
            [0.1, 0.2, 0.3],
            step_size_up=13,
            mode="exp_range",
            gamma=0.995,
            base_momentum=[0.8, 0.85, 0.7],
            max_momentum=0.95,
        ),
    ),
    "cyclic_scale_fn_iterations": (
        "sgd",
        lambda M, o: M.CyclicLR(
            o,
            0.01,
            0.1,
            step_size_up=4,
            scale_fn=lambda x: 1 / (1 + 0.01 * x),
            scale_mode="iterations",
            cycle_momentum=False,
        ),
    ),
    "cyclic_scale_fn_cycle": (
        "momentum",
        lambda M, o: M.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda c: 0.9**c),
    ),
    "one_cycle_cos": ("momentum", lambda M, o: M.OneCycleLR(o, max_lr=0.5, total_steps=STEPS)),
    "one_cycle_linear_beta1": (
        "adam",
        lambda M, o: M.OneCycleLR(
            o, max_lr=[0.5, 0.1, 1.0], epochs=10, steps_per_epoch=30, anneal_strategy="linear"
        ),
    ),
    "one_cycle_three_phase": (
        "momentum",
        lambda M, o: M.OneCycleLR(
            o,
            max_lr=0.3,
            total_steps=STEPS + 1,
            pct_start=0.25,
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
            base_momentum=0.8,
            max_momentum=[0.9, 0.95, 0.99],
        ),
    ),
    "one_cycle_no_momentum": (
        "sgd",
        lambda M, o: M.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, cycle_momentum=False),
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_sequence_identical_to_torch(name, device):
    metrics = PLATEAU_METRICS if name.startswith("plateau") else None
    build = CONFIGS[name]
    expected = run(build, theirs, metrics=metrics, device=device)
    assert run(build, ours, metrics=metrics, device=device) == expected


@pytest.mark.parametrize("name", sorted(CYCLIC_CONFIGS))
def test_cyclic_sequence_and_momentum_identical_to_torch(name, device):
    kind, build = CYCLIC_CONFIGS[name]
    assert run(build, ours, kind=kind, device=device) == run(
        build, theirs, kind=kind, device=device
    )


def test_plateau_stream_really_cuts_the_rate():
    """The metric stream above exercises reductions, cooldown and min_lr (not a no-op run)."""
    record = run(CONFIGS["plateau_cooldown_minlr"], ours, metrics=PLATEAU_METRICS)
    final = [lr for lr, _, _ in record[-1][1]]
    assert final[0] == 0.01 and final[2] == 0.2 and final[1] < LRS[1] / 100


def test_lambda_epoch_div_30_gives_zero_rate_for_30_epochs():
    """Note 002's ``lambda epoch: epoch // 30``: the factor is 0 until epoch 30, as in torch."""
    build = lambda M, o: M.LambdaLR(o, lr_lambda=lambda epoch: epoch // 30)  # noqa: E731
    record = run(build, ours, steps=100)
    assert record == run(build, theirs, steps=100)
    lrs = [lrs[0] for lrs, _ in record]
    assert lrs[:30] == [0.0] * 30 and lrs[30] == LRS[0] and lrs[60] == 2 * LRS[0]


# Closed form vs. the class: (scheduler config, closed form of (t, base_lr), relative tolerance).
# 0 means bit-identical; otherwise the class repeats torch's recurrence, whose rounding drifts
# from the closed form by a few ulps per step (measured max below 1e-13 over 300 steps).
CLOSED_FORMS = {
    "lambda": (lambda t, b: closed_form.lambda_lr_at(t, b, lr_lambda=lambda e: 0.97**e), 0),
    "multiplicative": (
        lambda t, b: closed_form.multiplicative_lr_at(t, b, lr_lambda=lambda e: 0.95),
        0,
    ),
    "step": (lambda t, b: closed_form.step_lr_at(t, b, step_size=7, gamma=0.1), 1e-14),
    "step_note002": (lambda t, b: closed_form.step_lr_at(t, b, step_size=4, gamma=0.5), 0),
    "multistep_repeated": (
        lambda t, b: closed_form.multi_step_lr_at(t, b, milestones=[50, 10, 10, 200], gamma=0.3),
        1e-14,
    ),
    "multistep_note002": (
        lambda t, b: closed_form.multi_step_lr_at(t, b, milestones=[8, 24, 28], gamma=0.5),
        0,
    ),
    "constant_long": (
        lambda t, b: closed_form.constant_lr_at(t, b, factor=0.1, total_iters=20),
        1e-15,
    ),
    "linear_warmup": (
        lambda t, b: closed_form.linear_lr_at(t, b, start_factor=0.05, total_iters=40),
        1e-14,
    ),
    "linear_full": (
        lambda t, b: closed_form.linear_lr_at(
            t, b, start_factor=0.1, end_factor=0.9, total_iters=300
        ),
        1e-14,
    ),
    "exponential": (lambda t, b: closed_form.exponential_lr_at(t, b, gamma=0.97), 1e-13),
    "exponential_note002": (lambda t, b: closed_form.exponential_lr_at(t, b, gamma=0.5), 0),
    "polynomial_square": (
        lambda t, b: closed_form.polynomial_lr_at(t, b, total_iters=100, power=2.0),
        1e-14,
    ),
    "cosine_long": (
        lambda t, b: closed_form.cosine_annealing_lr_at(t, b, T_max=100, eta_min=1e-3),
        1e-13,
    ),
    "cosine_short": (lambda t, b: closed_form.cosine_annealing_lr_at(t, b, T_max=7), 1e-13),
    "warm_restarts_mult": (
        lambda t, b: restarts.cosine_annealing_warm_restarts_lr_at(
            t, b, T_0=3, T_mult=2, eta_min=1e-3
        ),
        0,
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_closed_form_matches_the_scheduler(name):
    """|closed - sequence| <= tol * eta_0 at every step (tol 0: exactly equal)."""
    closed, tol = CLOSED_FORMS[name]
    record = run(CONFIGS[name], ours)
    for t, (lrs, _) in enumerate(record):
        for base_lr, lr in zip(LRS, lrs, strict=True):
            if tol == 0:
                assert closed(t, base_lr) == lr, (t, base_lr)
            else:
                assert abs(closed(t, base_lr) - lr) <= tol * base_lr, (t, base_lr)


@pytest.mark.parametrize("name", ["cyclic_exp_range", "cyclic_triangular2_beta1"])
def test_cyclic_closed_form_is_the_scheduler(name):
    kwargs = {
        "cyclic_exp_range": dict(step_size_up=13, mode="exp_range", gamma=0.995),
        "cyclic_triangular2_beta1": dict(step_size_up=5, step_size_down=11, mode="triangular2"),
    }[name]
    kind, build = CYCLIC_CONFIGS[name]
    optimizer = make_optimizer(kind)
    scheduler = build(ours, optimizer)
    for t in range(STEPS):
        expected = [
            cyclic.cyclic_lr_at(t, lo, hi, **kwargs)
            for lo, hi in zip(scheduler.base_lrs, scheduler.max_lrs, strict=True)
        ]
        assert scheduler.get_last_lr() == expected
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_closed_form_is_the_scheduler(three_phase, strategy):
    kwargs = dict(
        total_steps=STEPS,
        pct_start=0.4,
        anneal_strategy=strategy,
        div_factor=20.0,
        final_div_factor=50.0,
        three_phase=three_phase,
    )
    optimizer = make_optimizer("momentum")
    scheduler = ours.OneCycleLR(optimizer, max_lr=list(LRS), **kwargs)
    for t in range(STEPS):
        assert scheduler.get_last_lr() == [one_cycle.one_cycle_lr_at(t, m, **kwargs) for m in LRS]
        optimizer.step()
        scheduler.step()


EPOCHS = [0, 5, 3, 3, 17, 40, 1, 100, 299, 64, 31, 32, 33]


@pytest.mark.parametrize(
    "name",
    [
        "step",
        "multistep_repeated",
        "constant_long",
        "linear_warmup",
        "exponential",
        "polynomial_square",
        "cosine_long",
        "lambda",
        "multiplicative",
    ],
)
def test_step_with_epoch_uses_the_closed_form_like_torch(name):
    """step(epoch) (deprecated in torch, still supported) jumps to the closed form at ``epoch``
    (the recurrence for MultiplicativeLR, which has no closed form in torch); both warn."""
    records = []
    for module in (ours, theirs):
        optimizer = make_optimizer()
        scheduler = CONFIGS[name](module, optimizer)
        with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
            for epoch in EPOCHS:
                optimizer.step()
                scheduler.step(epoch)
                scheduler.step()
        records.append((scheduler.get_last_lr(), scheduler.last_epoch))
    assert records[0] == records[1]


def _torch_log_rounds_down(epoch: float, T_0: int, T_mult: int) -> bool:
    """Where torch's int(math.log(...)) misses a restart (a torch bug that we fix)."""
    if T_mult == 1 or epoch < T_0:
        return False
    n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
    return T_0 * (T_mult ** (n + 1) - 1) // (T_mult - 1) <= epoch


@pytest.mark.parametrize("T_0, T_mult", [(10, 1), (3, 2), (1, 3), (2, 4), (5, 3)])
def test_warm_restarts_fractional_epochs_like_torch(T_0, T_mult):
    """step(epoch + i / iters) per batch: identical to torch, except at the restart epochs where
    torch's logarithm rounds down; there ours restarts at eta_0, as step() without epoch does."""
    iters = 7
    epochs = [e + i / iters for e in range(130) for i in range(iters)]
    bugs = 0
    opt_ours, opt_theirs = make_optimizer(), make_optimizer()
    s_ours = ours.CosineAnnealingWarmRestarts(opt_ours, T_0=T_0, T_mult=T_mult, eta_min=1e-3)
    s_theirs = theirs.CosineAnnealingWarmRestarts(opt_theirs, T_0=T_0, T_mult=T_mult, eta_min=1e-3)
    for epoch in epochs:
        for opt, sched in ((opt_ours, s_ours), (opt_theirs, s_theirs)):
            opt.step()
            sched.step(epoch)
        if _torch_log_rounds_down(epoch, T_0, T_mult):
            bugs += 1
            assert s_ours.get_last_lr() == list(LRS) and s_ours.T_cur == 0
        else:
            assert s_ours.get_last_lr() == s_theirs.get_last_lr(), epoch
            assert (s_ours.T_cur, s_ours.T_i, s_ours.last_epoch) == (
                s_theirs.T_cur,
                s_theirs.T_i,
                s_theirs.last_epoch,
            )
    assert bugs == (1 if (T_0, T_mult) == (1, 3) else 0)


def test_warm_restarts_closed_form_equals_stepping_one_epoch_at_a_time():
    """The closed form (exact integer restart search) agrees with the stateful step() everywhere,
    including epoch 121 for T_0=1, T_mult=3 where torch's step(121) does not restart."""
    optimizer = make_optimizer()
    scheduler = ours.CosineAnnealingWarmRestarts(optimizer, T_0=1, T_mult=3)
    for epoch in range(1, 400):
        optimizer.step()
        scheduler.step()
        expected = [
            restarts.cosine_annealing_warm_restarts_lr_at(epoch, b, T_0=1, T_mult=3) for b in LRS
        ]
        assert scheduler.get_last_lr() == expected


@pytest.mark.parametrize("name", ["step", "cosine_long", "exponential", "warm_restarts_mult"])
def test_tensor_learning_rates_like_torch(name):
    """torch allows a tensor ``lr`` in a param group; schedulers fill it in place."""
    records = []
    for module in (ours, theirs):
        optimizer = make_optimizer(lrs=[torch.tensor(lr) for lr in LRS])
        tensors = [g["lr"] for g in optimizer.param_groups]
        scheduler = CONFIGS[name](module, optimizer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(50):
                optimizer.step()
                scheduler.step()
        assert all(g["lr"] is t for g, t in zip(optimizer.param_groups, tensors, strict=True))
        records.append([float(lr) for lr in scheduler.get_last_lr()])
    assert records[0] == records[1]


RANDOM_HYPERPARAMETERS = {
    "StepLR": {"step_size": st.integers(1, 40), "gamma": st.floats(0.05, 1.5)},
    "MultiStepLR": {
        "milestones": st.lists(st.integers(0, 120), max_size=6),
        "gamma": st.floats(0.05, 1.5),
    },
    "ConstantLR": {"factor": st.floats(0.01, 1.0), "total_iters": st.integers(1, 120)},
    "LinearLR": {
        "start_factor": st.floats(0.01, 1.0),
        "end_factor": st.floats(0.0, 1.0),
        "total_iters": st.integers(1, 120),
    },
    "ExponentialLR": {"gamma": st.floats(0.9, 1.01)},
    "PolynomialLR": {"total_iters": st.integers(1, 120), "power": st.floats(0.1, 3.0)},
    "CosineAnnealingLR": {"T_max": st.integers(1, 60), "eta_min": st.floats(0.0, 0.05)},
    "CosineAnnealingWarmRestarts": {
        "T_0": st.integers(1, 20),
        "T_mult": st.integers(1, 3),
        "eta_min": st.floats(0.0, 0.05),
    },
}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_hyperparameters_identical_to_torch(data):
    name = data.draw(st.sampled_from(sorted(RANDOM_HYPERPARAMETERS)), label="scheduler")
    kwargs = data.draw(st.fixed_dictionaries(RANDOM_HYPERPARAMETERS[name]), label="kwargs")

    def build(module, optimizer):
        return getattr(module, name)(optimizer, **kwargs)

    assert run(build, ours, steps=150) == run(build, theirs, steps=150)
