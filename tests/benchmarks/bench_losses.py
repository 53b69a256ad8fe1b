"""Forward + backward time of every course_lib loss against torch's own, on large batches.

Each case builds its inputs once (seeded), then times ``loss(...).backward()`` for ours and
for ``torch.nn.functional``'s in back-to-back pairs, with the gradients of the inputs cleared
before every call, until the interval of the median ratio is narrow (``timing.paired_ratio``,
robust to load changes on a shared machine), and judges the budget on that interval
(``timing.verdict``): 1.5x torch for the elementwise and classification losses, 5x for CTC (a
Python loop over frames against torch's C++ kernel)."""

import os

import torch
import torch.nn.functional as F

from course_lib import losses

from .timing import load_note, markdown_table, method_note, paired_ratio, summary, verdict

N, C = 4096, 1000  # batch and classes (or features) of the large cases
CTC_SHAPE = dict(T=100, N=16, S=30, C=20)
BUDGET, CTC_BUDGET = 1.5, 5.0


def _inputs(seed: int):
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, grad=True):
        return torch.randn(*shape, generator=g).requires_grad_(grad)

    def rand(*shape, grad=True):
        return torch.rand(*shape, generator=g).mul(0.98).add(0.01).requires_grad_(grad)

    def labels(high, *shape):
        return torch.randint(0, high, shape, generator=g)

    def signs(*shape):
        return labels(2, *shape).float().mul(2).sub(1)

    return randn, rand, labels, signs


def _cases():
    """(name, size, ours, theirs, args, kwargs) for every loss."""
    randn, rand, labels, signs = _inputs(0)
    x, y = randn(N, C), randn(N, C, grad=False)
    nc = f"{N}x{C}"
    multilabel = labels(100, 1024, 100).masked_fill(labels(4, 1024, 100) == 0, -1)
    return [
        ("cross_entropy", nc, losses.cross_entropy, F.cross_entropy, (x, labels(C, N)), {}),
        ("cross_entropy (smoothing 0.1)", nc, losses.cross_entropy, F.cross_entropy,
         (x, labels(C, N)), {"label_smoothing": 0.1}),
        ("nll_loss", nc, losses.nll_loss, F.nll_loss, (x, labels(C, N)), {}),
        ("binary_cross_entropy", nc, losses.binary_cross_entropy, F.binary_cross_entropy,
         (rand(N, C), rand(N, C, grad=False)), {}),
        ("binary_cross_entropy_with_logits", nc, losses.binary_cross_entropy_with_logits,
         F.binary_cross_entropy_with_logits, (x, rand(N, C, grad=False)), {}),
        ("l1_loss", nc, losses.l1_loss, F.l1_loss, (x, y), {}),
        ("mse_loss", nc, losses.mse_loss, F.mse_loss, (x, y), {}),
        ("smooth_l1_loss", nc, losses.smooth_l1_loss, F.smooth_l1_loss, (x, y), {}),
        ("huber_loss", nc, losses.huber_loss, F.huber_loss, (x, y), {}),
        ("poisson_nll_loss", nc, losses.poisson_nll_loss, F.poisson_nll_loss,
         (x, rand(N, C, grad=False)), {}),
        ("gaussian_nll_loss", nc, losses.gaussian_nll_loss, F.gaussian_nll_loss,
         (x, y, rand(N, C)), {}),
        ("kl_div", nc, losses.kl_div, F.kl_div,
         (x, rand(N, C, grad=False)), {"reduction": "batchmean"}),
        ("margin_ranking_loss", f"{N * C}", losses.margin_ranking_loss, F.margin_ranking_loss,
         (randn(N * C), randn(N * C), signs(N * C)), {}),
        ("hinge_embedding_loss", nc, losses.hinge_embedding_loss, F.hinge_embedding_loss,
         (x, signs(N, C)), {}),
        ("soft_margin_loss", nc, losses.soft_margin_loss, F.soft_margin_loss, (x, signs(N, C)), {}),
        ("multilabel_soft_margin_loss", nc, losses.multilabel_soft_margin_loss,
         F.multilabel_soft_margin_loss, (x, rand(N, C, grad=False)), {}),
        ("multi_margin_loss", nc, losses.multi_margin_loss, F.multi_margin_loss,
         (x, labels(C, N)), {}),
        ("multilabel_margin_loss", "1024x100", losses.multilabel_margin_loss,
         F.multilabel_margin_loss, (randn(1024, 100), multilabel), {}),
        ("cosine_embedding_loss", nc, losses.cosine_embedding_loss, F.cosine_embedding_loss,
         (x, randn(N, C), signs(N)), {}),
        ("triplet_margin_loss", nc, losses.triplet_margin_loss, F.triplet_margin_loss,
         (x, randn(N, C), randn(N, C)), {}),
        ("triplet_margin_with_distance_loss", nc, losses.triplet_margin_with_distance_loss,
         F.triplet_margin_with_distance_loss, (x, randn(N, C), randn(N, C)), {}),
    ]


def _ctc_case():
    randn, _, labels, _ = _inputs(1)
    T, n, S, c = CTC_SHAPE.values()
    log_probs = randn(T, n, c, grad=False).log_softmax(2).requires_grad_()
    args = (log_probs, labels(c - 1, n, S) + 1, torch.full((n,), T), labels(S - 9, n) + 10)
    size = f"T={T}, N={n}, S={S}, C={c}"
    return ("ctc_loss", size, losses.ctc_loss, F.ctc_loss, args, {})


def _step(loss_fn, args, kwargs):
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]

    def run():
        for leaf in leaves:
            leaf.grad = None
        loss_fn(*args, **kwargs).backward()

    return run


def main() -> str:
    load = os.getloadavg()
    rows = []
    for name, size, ours, theirs, args, kwargs in [*_cases(), _ctc_case()]:
        budget = CTC_BUDGET if name == "ctc_loss" else BUDGET
        paired = paired_ratio(_step(ours, args, kwargs), _step(theirs, args, kwargs))
        ms = (paired.ours_s * 1e3, paired.theirs_s * 1e3)
        rows.append((name, size, *ms, *paired.cells(), budget, verdict(paired, budget)))
    header = (
        "loss", "size", "ours (ms)", "torch (ms)", "ratio, wall [95% CI]", "ratio, CPU [95% CI]",
        "pairs", "budget", "within",
    )
    return (
        f"## Losses: forward + backward vs torch\n\n{load_note(load)} {method_note()} *ms*: "
        "the median call of each side.\n\n"
        + markdown_table(header, rows)
        + "\n\n"
        + summary([(row[0], row[-1]) for row in rows])
    )
