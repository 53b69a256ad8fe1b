r"""L-BFGS: a quasi-Newton method that learns curvature from its last few steps.

Unlike the other optimizers it works on all parameters at once, as one flat vector
:math:`\theta`, and needs a closure that re-evaluates the loss: one ``step(closure)`` runs up to
``max_iter`` iterations. Each iteration

1. updates the history of steps :math:`s_i = \theta_{i+1} - \theta_i` and gradient changes
   :math:`y_i = g_{i+1} - g_i` (kept only when the curvature :math:`y_i^\top s_i` is positive);
2. computes the direction :math:`d = -H g` with the two-loop recursion
   (:func:`two_loop_direction`), where :math:`H` approximates the inverse Hessian;
3. moves :math:`\theta \leftarrow \theta + t\,d`, with :math:`t = \eta` or with :math:`t` from a
   line search satisfying the strong Wolfe conditions (:func:`strong_wolfe`).

References: Nocedal (1980), "Updating Quasi-Newton Matrices with Limited Storage"; Liu & Nocedal
(1989), "On the limited memory BFGS method for large scale optimization"; Nocedal & Wright,
*Numerical Optimization* (2006), algorithms 3.5, 3.6 and 7.4. Like torch's, this follows
Mark Schmidt's minFunc.
"""

import torch
from torch import Tensor
from torch.optim import Optimizer

from course_lib.optim._base import check, check_lr, scalar

__all__ = ["LBFGS", "cubic_interpolate", "strong_wolfe", "two_loop_direction"]


def two_loop_direction(
    flat_grad: Tensor, old_dirs: list, old_stps: list, ro: list, H_diag
) -> tuple[Tensor, list]:
    r"""The L-BFGS direction :math:`d = -H g` by the two-loop recursion, without forming
    :math:`H`. With the history :math:`s_i` (``old_stps``), :math:`y_i` (``old_dirs``),
    :math:`\rho_i = 1 / y_i^\top s_i` (``ro``) and the initial scaling
    :math:`\gamma = s^\top y / y^\top y` of the newest pair (``H_diag``):

    .. math::

        q \leftarrow -g;\quad \text{for } i = k-1, \dots, 0:\
            \alpha_i = \rho_i s_i^\top q,\ q \leftarrow q - \alpha_i y_i; \qquad
        r \leftarrow \gamma q;\quad \text{for } i = 0, \dots, k-1:\
            \beta_i = \rho_i y_i^\top r,\ r \leftarrow r + (\alpha_i - \beta_i) s_i

    and :math:`d = r`. Returns :math:`d` and the :math:`\alpha_i` (torch keeps them in the
    state as ``al``).

    >>> s, y = torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0])  # curvature 2 along x
    >>> d, al = two_loop_direction(torch.tensor([4.0, 1.0]), [y], [s], [1 / y.dot(s)], 0.5)
    >>> d
    tensor([-2.0000, -0.5000])
    """
    al = [None] * len(old_dirs)
    q = flat_grad.neg()
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q.add_(old_dirs[i], alpha=-al[i])
    r = torch.mul(q, H_diag)
    for i in range(len(old_dirs)):
        be_i = old_dirs[i].dot(r) * ro[i]
        r.add_(old_stps[i], alpha=al[i] - be_i)
    return r, al


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    r"""Minimizer of the cubic through :math:`(x_1, f_1)` and :math:`(x_2, f_2)` with slopes
    :math:`g_1, g_2`, clipped to ``bounds`` (default: the interval between the points);
    the midpoint when the cubic has no minimum (Nocedal & Wright, 2006, eq. 3.59):

    .. math::

        d_1 = g_1 + g_2 - 3\frac{f_1 - f_2}{x_1 - x_2}, \quad
        d_2 = \sqrt{d_1^2 - g_1 g_2}, \quad
        x^* = x_2 - (x_2 - x_1)\frac{g_2 + d_2 - d_1}{g_2 - g_1 + 2 d_2}

    The slopes are 0-dim tensors (directional derivatives), as in :func:`strong_wolfe`.

    >>> float(cubic_interpolate(0.0, 1.0, torch.tensor(-2.0), 2.0, 1.0, torch.tensor(2.0)))
    1.0
    """
    if bounds is None:
        bounds = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if not d2_square >= 0:
        return (bounds[0] + bounds[1]) / 2.0
    d2 = d2_square.sqrt()
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, bounds[0]), bounds[1])


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    r"""Line search for a step :math:`t` along :math:`d` satisfying the strong Wolfe
    conditions (Nocedal & Wright, 2006, algorithms 3.5 and 3.6):

    .. math::

        f(\theta + t d) \le f(\theta) + c_1 t\, g^\top d
        \quad \text{(sufficient decrease)}, \qquad
        |\nabla f(\theta + t d)^\top d| \le c_2\, |g^\top d| \quad \text{(curvature)}

    First it extrapolates until an interval that must contain such a step is bracketed, then
    it shrinks the bracket by cubic interpolation ("zoom"). ``obj_func(x, t, d)`` returns the
    loss and flat gradient at :math:`x + t d`; :math:`f, g, gtd` are those at :math:`x` and
    :math:`g^\top d`. Returns the new loss, gradient, step and the number of evaluations.

    >>> def obj(x, t, d):  # f(z) = (z - 3)^2 in one dimension
    ...     z = x + t * d
    ...     return float((z - 3) ** 2), 2 * (z - 3)
    >>> x, g = torch.zeros(1), torch.tensor([-6.0])
    >>> f_new, g_new, t, evals = strong_wolfe(obj, x, 1.0, -g, 9.0, g, g.dot(g).neg())
    >>> round(float(t), 4), evals
    (0.5, 2)
    """
    d_norm = d.abs().max()
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    prev = (0, f, g.clone(memory_format=torch.contiguous_format), gtd)
    done, ls_iter, bracket = False, 0, None
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= prev[1]):
            bracket = [
                prev,
                (t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new),
            ]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = [(t, f_new, g_new, gtd_new)], True
            break
        if gtd_new >= 0:
            bracket = [
                prev,
                (t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new),
            ]
            break
        bounds = (t + 0.01 * (t - prev[0]), t * 10)
        t_next = cubic_interpolate(prev[0], prev[1], prev[3], t, f_new, gtd_new, bounds=bounds)
        prev = (t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)
        t = t_next
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [(0, f, g, gtd), (t, f_new, g_new, gtd_new)]
    best, evals = _zoom(
        obj_func,
        x,
        d,
        f,
        gtd,
        bracket,
        done,
        ls_iter,
        evals,
        d_norm,
        c1,
        c2,
        tolerance_change,
        max_ls,
    )
    return best[1], best[2], best[0], evals


def _zoom(
    obj_func, x, d, f, gtd, bracket, done, ls_iter, evals, d_norm, c1, c2, tolerance_change, max_ls
):
    """Shrink a bracket of points ``(t, f, g, gtd)`` until one satisfies the strong Wolfe
    conditions (or the budget or the tolerance runs out); return the best point."""
    insuf_progress = False
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and ls_iter < max_ls:
        ts = (bracket[0][0], bracket[1][0])
        if abs(ts[1] - ts[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(
            ts[0], bracket[0][1], bracket[0][3], ts[1], bracket[1][1], bracket[1][3]
        )
        t, insuf_progress = _keep_away_from_ends(t, max(ts), min(ts), insuf_progress)
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        point = (t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)
        if f_new > (f + c1 * t * gtd) or f_new >= bracket[low][1]:
            bracket[high] = point
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = point
    return bracket[low], evals


def _keep_away_from_ends(t, t_max, t_min, insuf_progress):
    """Move a trial step that is within 10% of the bracket's ends inwards, at once if it is
    outside or if the previous trial made too little progress."""
    eps = 0.1 * (t_max - t_min)
    if not min(t_max - t, t - t_min) < eps:
        return t, False
    if not (insuf_progress or t >= t_max or t <= t_min):
        return t, True
    return (t_max - eps if abs(t - t_max) < abs(t - t_min) else t_min + eps), False


class LBFGS(Optimizer):
    r"""L-BFGS with ``torch.optim.LBFGS``'s signature, defaults, state and closure API:
    ``step(closure)`` re-evaluates the loss (with gradients) through ``closure``.

    Only one param group; the state (``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
    ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``al``) lives under the
    first parameter. Memory: ``2 * history_size + 2`` vectors of all parameters.

    >>> w = torch.nn.Parameter(torch.tensor([-1.5, 2.0]))
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2  # Rosenbrock
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(5):
    ...     _ = opt.step(closure)
    >>> [round(v, 4) for v in w.tolist()]
    [1.0, 1.0]
    """

    def __init__(
        self,
        params,
        lr: float | Tensor = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        check(
            len(self.param_groups) == 1,
            "LBFGS doesn't support per-parameter options (parameter groups); "
            "pass one list of parameters",
        )
        self._params = self.param_groups[0]["params"]

    def _gather_flat_grad(self) -> Tensor:
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(p.new_zeros(p.numel()))
            else:
                views.append((p.grad.to_dense() if p.grad.is_sparse else p.grad).view(-1))
        return torch.cat(views, 0)

    def _add_grad(self, step_size, update: Tensor) -> None:
        offset = 0
        for p in self._params:
            p.add_(update[offset : offset + p.numel()].view_as(p), alpha=step_size)
            offset += p.numel()

    def _directional_evaluate(self, closure, x: list, t, d: Tensor) -> tuple[float, Tensor]:
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x, strict=True):
            p.copy_(saved)
        return loss, flat_grad

    @torch.no_grad()
    def step(self, closure):  # type: ignore[override]
        """Perform up to ``max_iter`` L-BFGS iterations; returns the loss before them."""
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr = scalar(group["lr"])
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= group["tolerance_grad"]:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        for n_iter in range(1, group["max_iter"] + 1):
            state["n_iter"] += 1
            d = self._direction(state, flat_grad, d, t, prev_flat_grad, group["history_size"])
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -group["tolerance_change"]:
                break
            final_iter = n_iter == group["max_iter"]
            max_ls = group["max_eval"] - current_evals
            loss, flat_grad, t, evals = self._move(
                closure, loss, flat_grad, d, t, gtd, max_ls, final_iter
            )
            current_evals += evals
            state["func_evals"] += evals
            if (
                final_iter
                or current_evals >= group["max_eval"]
                or flat_grad.abs().max() <= group["tolerance_grad"]
                or d.mul(t).abs().max() <= group["tolerance_change"]
                or abs(loss - prev_loss) < group["tolerance_change"]
            ):
                break
        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def _direction(self, state, flat_grad, d, t, prev_flat_grad, history_size) -> Tensor:
        """Update the curvature history with the last step, then the two-loop direction (the
        steepest descent on the very first iteration)."""
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return flat_grad.neg()
        y = flat_grad.sub(prev_flat_grad)
        s = d.mul(t)
        ys = y.dot(s)
        if ys > 1e-10:  # keep only pairs with positive curvature: H stays positive definite
            if len(state["old_dirs"]) == history_size:
                for key in ("old_dirs", "old_stps", "ro"):
                    state[key].pop(0)
            state["old_dirs"].append(y)
            state["old_stps"].append(s)
            state["ro"].append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)
        direction, al = two_loop_direction(
            flat_grad, state["old_dirs"], state["old_stps"], state["ro"], state["H_diag"]
        )
        state["al"] = al + [None] * (history_size - len(al))
        return direction

    def _move(self, closure, loss, flat_grad, d, t, gtd, max_ls, final_iter):
        """Step along ``d``: by ``t`` (and re-evaluate, unless this is the last iteration), or
        by a strong-Wolfe line search. Returns the new loss, gradient, step and evaluations."""
        line_search_fn = self.param_groups[0]["line_search_fn"]
        if line_search_fn is None:
            self._add_grad(t, d)
            if final_iter:
                return loss, flat_grad, t, 0
            return float(closure()), self._gather_flat_grad(), t, 1
        if line_search_fn != "strong_wolfe":
            raise RuntimeError(
                f"only 'strong_wolfe' is supported, got line_search_fn={line_search_fn!r}"
            )
        x_init = [p.clone(memory_format=torch.contiguous_format) for p in self._params]

        def obj_func(x, t, d):
            return self._directional_evaluate(closure, x, t, d)

        loss, flat_grad, t, evals = strong_wolfe(
            obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_ls
        )
        self._add_grad(t, d)
        return loss, flat_grad, t, evals
