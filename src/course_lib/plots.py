"""The figures of the book. Each function draws on a given ``ax`` (or a new figure) and returns
the axes or figure, so chapters can combine them."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from course_lib.train import LayerStatistics


def _axes(ax):
    return ax if ax is not None else plt.figure(figsize=(6, 3.5)).add_subplot()


def curves(
    series: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
    ax=None,
):
    """One line per entry of ``series`` (label -> values), e.g. loss curves or learning-rate
    schedules."""
    ax = _axes(ax)
    for label, values in series.items():
        ax.plot(range(len(values)), values, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def layer_std(
    series: Mapping[str, Sequence[float]], *, what: str = "activations", title: str = "", ax=None
):
    """Standard deviation per layer (x: layer index from the input), log scale: a flat line is a
    healthy network, a falling one vanishes, a rising one explodes."""
    ax = curves(series, xlabel="layer", ylabel=f"std of {what}", title=title, logy=True, ax=ax)
    ax.set_xticks(range(max(len(v) for v in series.values())))
    return ax


def layer_histograms(
    stats: LayerStatistics, *, what: str = "activations", bins: int = 60, title: str = ""
):
    """A row of histograms, one per layer, of the activations (or gradients) of one batch."""
    tensors = stats.activations if what == "activations" else stats.gradients
    fig, axes = plt.subplots(1, len(tensors), figsize=(1.6 * len(tensors), 2.2), sharey=True)
    limit = max(t.abs().max().item() for t in tensors) or 1.0
    for i, (ax, tensor) in enumerate(zip(axes, tensors)):
        ax.hist(tensor.flatten().cpu().numpy(), bins=bins, range=(-limit, limit), density=True)
        ax.set_title(f"layer {i}\nstd {tensor.std().item():.2g}", fontsize="small")
        ax.tick_params(labelsize="x-small")
    fig.suptitle(title or what)
    fig.tight_layout()
    return fig


def weight_histograms(weights: Mapping[str, torch.Tensor], *, bins: int = 60, title: str = ""):
    """Overlaid histograms of several weight tensors (label -> tensor)."""
    ax = _axes(None)
    for label, weight in weights.items():
        ax.hist(weight.detach().flatten().cpu().numpy(), bins=bins, alpha=0.5, density=True, label=label)
    ax.set(xlabel="weight value", ylabel="density", title=title)
    ax.legend(fontsize="small")
    return ax
