"""SequentialLR and ChainedScheduler: ours over ours equals torch's over torch's for 300 steps,
and every mix (ours over torch's schedulers, torch's over ours, ours and torch's side by side in
one chain) gives the same sequence too."""

import pytest
import torch
from torch.optim import lr_scheduler as theirs

from course_lib import schedulers as ours
from tests.test_schedulers_torch_oracle import make_optimizer, run

SEQUENTIAL = {
    "warmup_then_cosine": (
        lambda M, o: [
            M.LinearLR(o, start_factor=0.1, total_iters=10),
            M.CosineAnnealingLR(o, T_max=90),
        ],
        [10],
    ),
    "constant_then_exponential": (
        lambda M, o: [M.ConstantLR(o, factor=0.1, total_iters=20), M.ExponentialLR(o, gamma=0.9)],
        [20],
    ),
    "three_pieces": (
        lambda M, o: [
            M.LinearLR(o, start_factor=0.5, total_iters=4),
            M.StepLR(o, step_size=7, gamma=0.5),
            M.MultiplicativeLR(o, lambda e: 0.99),
        ],
        [5, 100],
    ),
    "lambda_and_restarts": (
        lambda M, o: [
            M.LambdaLR(o, lambda e: (e + 1) / 10),
            M.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2),
        ],
        [9],
    ),
    "polynomial_and_multistep": (
        lambda M, o: [M.PolynomialLR(o, total_iters=30, power=2.0), M.MultiStepLR(o, [5, 40], 0.5)],
        [40],
    ),
}

CHAINED = {
    "constant_times_exponential": lambda M, o: [
        M.ConstantLR(o, factor=0.1, total_iters=20),
        M.ExponentialLR(o, gamma=0.9),
    ],
    "warmup_step_cosine": lambda M, o: [
        M.LinearLR(o, start_factor=0.2, total_iters=25),
        M.StepLR(o, step_size=30, gamma=0.5),
        M.CosineAnnealingLR(o, T_max=50, eta_min=1e-4),
    ],
    "multiplicative_polynomial": lambda M, o: [
        M.MultiplicativeLR(o, lambda e: 0.995),
        M.PolynomialLR(o, total_iters=250, power=0.9),
        M.MultiStepLR(o, [10, 10, 100], 0.7),
    ],
}


def sequential(outer, inner):
    def build(name):
        pieces, milestones = SEQUENTIAL[name]
        return lambda _, o: outer.SequentialLR(o, pieces(inner, o), milestones=milestones)

    return build


def chained(outer, inner):
    def build(name):
        return lambda _, o: outer.ChainedScheduler(CHAINED[name](inner, o), optimizer=o)

    return build


MIXES = {
    "ours/ours": (ours, ours),
    "ours/torch": (ours, theirs),
    "torch/ours": (theirs, ours),
}


@pytest.mark.parametrize("mix", sorted(MIXES))
@pytest.mark.parametrize("name", sorted(SEQUENTIAL))
def test_sequential_identical_to_torch(name, mix, device):
    expected = run(sequential(theirs, theirs)(name), None, device=device)
    assert run(sequential(*MIXES[mix])(name), None, device=device) == expected


@pytest.mark.parametrize("mix", sorted(MIXES))
@pytest.mark.parametrize("name", sorted(CHAINED))
def test_chained_identical_to_torch(name, mix, device):
    expected = run(chained(theirs, theirs)(name), None, device=device)
    assert run(chained(*MIXES[mix])(name), None, device=device) == expected


@pytest.mark.parametrize("outer", [ours, theirs], ids=["ours", "torch"])
def test_one_chain_of_ours_and_torch_schedulers(outer):
    """Ours and torch's schedulers side by side in one chain act like an all-torch chain."""

    def build(inner_first, inner_second):
        return lambda _, o: outer.ChainedScheduler(
            [
                inner_first.LinearLR(o, start_factor=0.2, total_iters=25),
                inner_second.StepLR(o, step_size=30, gamma=0.5),
            ]
        )

    expected = run(build(theirs, theirs), None)
    assert run(build(ours, theirs), None) == expected
    assert run(build(theirs, ours), None) == expected


def test_chain_of_sequential_identical_to_torch():
    def build(M):
        def make(_, o):
            seq = M.SequentialLR(
                o, [M.LinearLR(o, start_factor=0.1, total_iters=10), M.ExponentialLR(o, 0.99)], [10]
            )
            return M.ChainedScheduler([seq, M.StepLR(o, step_size=50, gamma=0.5)], optimizer=o)

        return make

    assert run(build(ours), None) == run(build(theirs), None)


@pytest.mark.parametrize("make", ["sequential", "chained"])
def test_composite_state_dict_round_trip_mid_run(make):
    """Save at step 150, rebuild from scratch, load, continue: same as never stopping."""
    build = (
        sequential(ours, ours)("three_pieces")
        if make == "sequential"
        else chained(ours, ours)("warmup_step_cosine")
    )
    reference = run(build, None)
    optimizer = make_optimizer()
    scheduler = build(None, optimizer)
    for _ in range(150):
        optimizer.step()
        scheduler.step()
    saved = scheduler.state_dict(), optimizer.state_dict()
    assert len(saved[0]["_schedulers"]) == 3
    optimizer = make_optimizer()
    scheduler = build(None, optimizer)
    optimizer.load_state_dict(saved[1])
    scheduler.load_state_dict(saved[0])
    lrs = [scheduler.get_last_lr()]
    for _ in range(150):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    assert lrs == [lr for lr, _ in reference[150:]]


@pytest.mark.parametrize(
    "plateau", [ours.ReduceLROnPlateau, theirs.ReduceLROnPlateau], ids=["ours", "torch"]
)
@pytest.mark.parametrize("composite", ["SequentialLR", "ChainedScheduler"])
def test_composites_reject_plateau(composite, plateau):
    optimizer = make_optimizer()
    schedulers = [ours.StepLR(optimizer, 3), plateau(optimizer)]
    args = (optimizer, schedulers, [5]) if composite == "SequentialLR" else (schedulers,)
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        getattr(ours, composite)(*args)


@pytest.mark.parametrize("composite", ["SequentialLR", "ChainedScheduler"])
def test_composites_reject_bad_input(composite):
    optimizer, other = make_optimizer(), make_optimizer()
    foreign = [ours.StepLR(optimizer, 3), ours.StepLR(other, 3)]
    build = {
        "SequentialLR": lambda s, m: ours.SequentialLR(optimizer, s, m),
        "ChainedScheduler": lambda s, m: ours.ChainedScheduler(s, optimizer),
    }[composite]
    with pytest.raises(ValueError, match="at least one scheduler"):
        build([], [])
    with pytest.raises(ValueError, match="same optimizer"):
        build(foreign, [5])
    with pytest.raises(TypeError, match="should have `optimizer`"):
        build([object()], [])


def test_sequential_needs_one_milestone_fewer_than_schedulers():
    optimizer = make_optimizer()
    schedulers = [ours.StepLR(optimizer, 3), ours.ExponentialLR(optimizer, 0.9)]
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        ours.SequentialLR(optimizer, schedulers, milestones=[5, 10])


def test_our_composites_are_torch_schedulers():
    optimizer = make_optimizer()
    chain = ours.ChainedScheduler([ours.StepLR(optimizer, 3)])
    assert isinstance(chain, torch.optim.lr_scheduler.LRScheduler)
