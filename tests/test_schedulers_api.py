"""The scheduler object's API, torch as the oracle: step-order warnings, initial_lr/base_lrs,
resuming with last_epoch, state_dict round trips (ours -> ours, torch -> ours, ours -> torch)
in the middle of a run, and the errors raised for invalid arguments."""

import io
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as theirs

from course_lib import optim
from course_lib import schedulers as ours
from tests.test_schedulers_torch_oracle import (
    CONFIGS,
    CYCLIC_CONFIGS,
    PLATEAU_METRICS,
    make_optimizer,
)

ALL = {name: ("sgd", build) for name, build in CONFIGS.items()} | CYCLIC_CONFIGS
ORDER_WARNING = "Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"


def stepper(name, scheduler):
    """step() or step(metric) for ReduceLROnPlateau."""
    metrics = iter(PLATEAU_METRICS)
    return (lambda: scheduler.step(next(metrics))) if name.startswith("plateau") else scheduler.step


def advance(name, optimizer, scheduler, steps):
    step = stepper(name, scheduler)
    for _ in range(steps):
        optimizer.step()
        step()


@pytest.mark.parametrize("module", [ours, theirs], ids=["ours", "torch"])
def test_scheduler_step_before_optimizer_step_warns(module):
    optimizer = make_optimizer()
    scheduler = module.StepLR(optimizer, step_size=2)
    with pytest.warns(UserWarning, match=ORDER_WARNING):
        scheduler.step()


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_warning_in_the_right_order(name):
    kind, build = ALL[name]
    optimizer = make_optimizer(kind)
    scheduler = build(ours, optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        advance(name, optimizer, scheduler, 20)


def test_get_lr_outside_step_warns_like_torch():
    for module in (ours, theirs):
        scheduler = module.ExponentialLR(make_optimizer(), gamma=0.9)
        with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
            scheduler.get_lr()


def test_initial_lr_base_lrs_and_last_epoch_like_torch():
    built = []
    for module in (ours, theirs):
        optimizer = make_optimizer()
        scheduler = module.MultiStepLR(optimizer, milestones=[2], gamma=0.5)
        built.append(
            (
                scheduler.base_lrs,
                scheduler.last_epoch,
                scheduler.get_last_lr(),
                [g["initial_lr"] for g in optimizer.param_groups],
            )
        )
    assert built[0] == built[1] == ([0.1, 0.037, 1.3], 0, [0.1, 0.037, 1.3], [0.1, 0.037, 1.3])


@pytest.mark.parametrize(
    "name",
    [
        "step",
        "exponential",
        "constant_long",
        "linear_warmup",
        "cosine_long",
        "polynomial_square",
        "multiplicative",
        "warm_restarts_mult",
    ],
)
def test_resume_with_last_epoch_like_torch(name):
    """Constructing with last_epoch=k (after optimizer.load_state_dict put initial_lr back)."""
    results = []
    for module in (ours, theirs):
        optimizer = make_optimizer()
        scheduler = CONFIGS[name](module, optimizer)
        advance(name, optimizer, scheduler, 37)
        resumed_opt = make_optimizer()
        resumed_opt.load_state_dict(optimizer.state_dict())
        resumed = _with_last_epoch(CONFIGS[name], module, resumed_opt, 37)
        advance(name, resumed_opt, resumed, 20)
        results.append(resumed.get_last_lr())
    assert results[0] == results[1]


def _with_last_epoch(builder, module, optimizer, last_epoch):
    """Call a CONFIGS builder with last_epoch passed to the scheduler class."""

    class Patched:
        def __getattr__(self, cls_name):
            cls = getattr(module, cls_name)
            return lambda *args, **kwargs: cls(*args, **kwargs, last_epoch=last_epoch)

    return builder(Patched(), optimizer)


def _round_trip(state: dict) -> dict:
    """Through torch.save/torch.load, as a checkpoint would go."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


MIXES = {"ours->ours": (ours, ours), "torch->ours": (theirs, ours), "ours->torch": (ours, theirs)}


@pytest.mark.parametrize("mix", sorted(MIXES))
@pytest.mark.parametrize("name", sorted(ALL))
def test_state_dict_round_trip_mid_run(name, mix):
    """Run 150 steps with one library, checkpoint scheduler and optimizer, rebuild with the
    other (or the same), load, run 150 more: identical to torch running 300 steps."""
    kind, build = ALL[name]
    source, target = MIXES[mix]
    optimizer = make_optimizer(kind)
    scheduler = build(source, optimizer)
    step = stepper(name, scheduler)
    for _ in range(150):
        optimizer.step()
        step()
    scheduler_state, optimizer_state = (
        _round_trip(scheduler.state_dict()),
        _round_trip(optimizer.state_dict()),
    )
    resumed_opt = make_optimizer(kind)
    resumed = build(target, resumed_opt)
    resumed_opt.load_state_dict(optimizer_state)
    resumed.load_state_dict(scheduler_state)
    metrics = iter(PLATEAU_METRICS[150:])
    continued = [resumed.get_last_lr()]
    for _ in range(150):
        resumed_opt.step()
        resumed.step(next(metrics)) if name.startswith("plateau") else resumed.step()
        continued.append(resumed.get_last_lr())

    reference_opt = make_optimizer(kind)
    reference = build(theirs, reference_opt)
    step = stepper(name, reference)
    expected = []
    for t in range(300):
        if t >= 150:
            expected.append(reference.get_last_lr())
        reference_opt.step()
        step()
    expected.append(reference.get_last_lr())
    assert continued == expected


def test_state_dict_keys_match_torch():
    for name in sorted(ALL):
        kind, build = ALL[name]
        mine = build(ours, make_optimizer(kind)).state_dict()
        torch_keys = set(build(theirs, make_optimizer(kind)).state_dict())
        assert set(mine) <= torch_keys | {"_scale_fn_custom"}, name
        assert torch_keys - set(mine) <= {"_is_initial", "_get_lr_called_within_step"}, name


def test_callable_object_lambda_state_is_saved():
    """torch's rule: a callable object's __dict__ goes into the state_dict, a lambda does not."""

    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate**epoch

    optimizer = make_optimizer()
    scheduler = ours.LambdaLR(optimizer, [Decay(0.9), lambda e: 1.0, Decay(0.5)])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.9}, None, {"rate": 0.5}]
    other = ours.LambdaLR(make_optimizer(), [Decay(0.1), lambda e: 1.0, Decay(0.1)])
    other.load_state_dict(state)
    assert [other.lr_lambdas[0].rate, other.lr_lambdas[2].rate] == [0.9, 0.5]


ERRORS = {
    "step_gamma": (
        lambda M, o: M.StepLR(o, step_size=3, gamma=-0.5),
        ValueError,
        "gamma must be a positive",
    ),
    "step_size": (lambda M, o: M.StepLR(o, step_size=0), ValueError, "positive integer step_size"),
    "multistep_gamma": (
        lambda M, o: M.MultiStepLR(o, [3], gamma=0.0),
        ValueError,
        "gamma must be a positive",
    ),
    "exponential_gamma": (
        lambda M, o: M.ExponentialLR(o, gamma=-1.0),
        ValueError,
        "gamma must be a positive",
    ),
    "cosine_T_max": (
        lambda M, o: M.CosineAnnealingLR(o, T_max=0),
        ValueError,
        "T_max must be a positive",
    ),
    "constant_factor": (lambda M, o: M.ConstantLR(o, factor=1.5), ValueError, "factor expected"),
    "constant_factor_zero": (
        lambda M, o: M.ConstantLR(o, factor=0.0),
        ValueError,
        "greater than 0",
    ),
    "constant_total_iters": (
        lambda M, o: M.ConstantLR(o, total_iters=0),
        ValueError,
        "total_iters",
    ),
    "linear_start": (
        lambda M, o: M.LinearLR(o, start_factor=0.0),
        ValueError,
        "Starting multiplicative",
    ),
    "linear_end": (lambda M, o: M.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative"),
    "polynomial_total_iters": (
        lambda M, o: M.PolynomialLR(o, total_iters=0),
        ValueError,
        "total_iters",
    ),
    "lambda_count": (
        lambda M, o: M.LambdaLR(o, [lambda e: 1.0]),
        ValueError,
        "Expected 3 lr_lambdas",
    ),
    "lambda_callable": (lambda M, o: M.MultiplicativeLR(o, 0.9), TypeError, "should be a function"),
    "restarts_T_0": (
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=0),
        ValueError,
        "positive integer T_0",
    ),
    "restarts_T_mult": (
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5),
        ValueError,
        "T_mult",
    ),
    "restarts_eta_min": (
        lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
        ValueError,
        "eta_min",
    ),
    "cyclic_mode": (
        lambda M, o: M.CyclicLR(o, 0.1, 1.0, mode="sine"),
        ValueError,
        "mode is invalid",
    ),
    "cyclic_scale_mode": (
        lambda M, o: M.CyclicLR(o, 0.1, 1.0, scale_fn=lambda x: 1.0, scale_mode="epochs"),
        ValueError,
        "scale_mode",
    ),
    "cyclic_step_size": (
        lambda M, o: M.CyclicLR(o, 0.1, 1.0, step_size_up=0),
        ValueError,
        "step_size_up",
    ),
    "cyclic_max_lr_count": (
        lambda M, o: M.CyclicLR(o, 0.1, [1.0, 2.0]),
        ValueError,
        "max_lr must have the same length",
    ),
    "cyclic_no_momentum": (
        lambda M, o: M.CyclicLR(torch.optim.Adagrad(o.param_groups[0]["params"]), 0.1, 1.0),
        ValueError,
        "must support momentum",
    ),
    "one_cycle_steps": (lambda M, o: M.OneCycleLR(o, 1.0), ValueError, "total_steps OR"),
    "one_cycle_total": (
        lambda M, o: M.OneCycleLR(o, 1.0, total_steps=0),
        ValueError,
        "total_steps",
    ),
    "one_cycle_epochs": (
        lambda M, o: M.OneCycleLR(o, 1.0, epochs=-1, steps_per_epoch=3),
        ValueError,
        "epochs",
    ),
    "one_cycle_pct": (
        lambda M, o: M.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.5),
        ValueError,
        "pct_start",
    ),
    "one_cycle_anneal": (
        lambda M, o: M.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="cosine"),
        ValueError,
        "anneal_strategy",
    ),
    "plateau_factor": (
        lambda M, o: M.ReduceLROnPlateau(o, factor=1.0),
        ValueError,
        "Factor should be < 1.0",
    ),
    "plateau_mode": (
        lambda M, o: M.ReduceLROnPlateau(o, mode="minimum"),
        ValueError,
        "mode minimum is unknown",
    ),
    "plateau_threshold_mode": (
        lambda M, o: M.ReduceLROnPlateau(o, threshold_mode="relative"),
        ValueError,
        "threshold mode relative",
    ),
    "plateau_min_lrs": (
        lambda M, o: M.ReduceLROnPlateau(o, min_lr=[0.1]),
        ValueError,
        "expected 3 min_lrs",
    ),
    "not_an_optimizer": (
        lambda M, o: M.ExponentialLR(object(), 0.9),
        TypeError,
        "is not an Optimizer",
    ),
    "plateau_not_an_optimizer": (
        lambda M, o: M.ReduceLROnPlateau(object()),
        TypeError,
        "is not an Optimizer",
    ),
}


# Where torch validates the same argument, it raises the same class; elsewhere torch accepts
# the value and fails later (ZeroDivisionError) or silently misbehaves (negative gamma).
TORCH_VALIDATES_TOO = {
    "constant_factor",
    "linear_start",
    "linear_end",
    "lambda_count",
    "lambda_callable",
    "restarts_T_0",
    "restarts_T_mult",
    "restarts_eta_min",
    "cyclic_mode",
    "cyclic_max_lr_count",
    "cyclic_no_momentum",
    "one_cycle_steps",
    "one_cycle_total",
    "one_cycle_epochs",
    "one_cycle_pct",
    "one_cycle_anneal",
    "plateau_factor",
    "plateau_mode",
    "plateau_threshold_mode",
    "plateau_min_lrs",
    "not_an_optimizer",
    "plateau_not_an_optimizer",
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_invalid_arguments_raise_with_a_clear_message(name):
    build, error, message = ERRORS[name]
    with pytest.raises(error, match=message):
        build(ours, make_optimizer("momentum"))
    if name in TORCH_VALIDATES_TOO:
        with pytest.raises(error):
            build(theirs, make_optimizer("momentum"))


def test_one_cycle_refuses_to_step_past_total_steps_like_torch():
    for module in (ours, theirs):
        optimizer = make_optimizer("momentum")
        scheduler = module.OneCycleLR(optimizer, max_lr=1.0, total_steps=5)
        for _ in range(5):
            optimizer.step()
            scheduler.step()
        with pytest.raises(ValueError, match="Tried to step 6 times"):
            optimizer.step()
            scheduler.step()


def test_warm_restarts_refuses_negative_epoch():
    scheduler = ours.CosineAnnealingWarmRestarts(make_optimizer(), T_0=3)
    with pytest.raises(ValueError, match="non-negative epoch"):
        scheduler.step(-1)


@pytest.mark.parametrize(
    "optimizer_name, build",
    [
        ("SGD", lambda M, o: M.OneCycleLR(o, max_lr=0.5, total_steps=60)),
        ("Adam", lambda M, o: M.CyclicLR(o, 0.001, 0.05, step_size_up=7)),
        ("SGD", lambda M, o: M.ReduceLROnPlateau(o, factor=0.5, patience=2)),
    ],
)
def test_our_schedulers_drive_course_lib_optimizers(optimizer_name, build):
    """Ours on course_lib.optim's optimizers set the same rates and momenta as torch's
    schedulers on torch's optimizers, and training follows the same path."""
    g = torch.Generator().manual_seed(9)
    x, y = torch.randn(32, 3, generator=g), torch.randn(32, generator=g)
    runs = []
    for opt_module, sched_module in ((optim, ours), (torch.optim, theirs)):
        w = torch.zeros(3, requires_grad=True)
        kwargs = {"momentum": 0.9} if optimizer_name == "SGD" else {}
        optimizer = getattr(opt_module, optimizer_name)([w], lr=0.01, **kwargs)
        scheduler = build(sched_module, optimizer)
        seen = []
        for _ in range(60):
            optimizer.zero_grad()
            loss = (x @ w - y).pow(2).mean()
            loss.backward()
            optimizer.step()
            if isinstance(scheduler, ours.ReduceLROnPlateau | theirs.ReduceLROnPlateau):
                scheduler.step(loss.item())
            else:
                scheduler.step()
            group = optimizer.param_groups[0]
            seen.append((group["lr"], group.get("momentum"), group.get("betas")))
        runs.append((seen, w.detach()))
    assert runs[0][0] == runs[1][0]
    torch.testing.assert_close(runs[0][1], runs[1][1])
