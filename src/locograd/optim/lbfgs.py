"""``LBFGS``: limited-memory BFGS, optionally with a strong-Wolfe line search.

Unlike the first-order optimisers, L-BFGS treats all parameters as one flat vector (its
curvature pairs couple them), evaluates the loss several times per ``step`` through the
closure, and so overrides ``step`` instead of running per-parameter rules.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import enable_grad
from .optimizer import Optimizer, check_non_negative, check_positive_int
from ..backend import namespace, writeable

__all__ = ["LBFGS", "strong_wolfe", "cubic_minimum"]


def cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes ``g1``,
    ``g2``, clipped to ``bounds`` (default: the interval between ``x1`` and ``x2``); the
    interval's middle when the cubic has no minimum (Nocedal & Wright, eq. 3.59)."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    discriminant = d1 * d1 - g1 * g2
    if discriminant < 0.0:
        return (low + high) / 2.0
    d2 = math.sqrt(discriminant)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    return min(max(x, low), high)


def strong_wolfe(evaluate, t, d, loss, grad, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """A step ``t`` along ``d`` satisfying the strong Wolfe conditions (Nocedal & Wright,
    algorithms 3.5 and 3.6: bracketing, then zooming in by safeguarded cubic interpolation).

    Args:
        evaluate: ``evaluate(t) -> (loss, flat_gradient)`` at ``x + t d``.
        t: the first trial step. d: the search direction (a flat array).
        loss, grad, gtd: the loss, flat gradient and directional derivative ``grad . d`` at
            ``t = 0`` (``gtd < 0``).
        c1, c2: the sufficient-decrease and curvature constants.
        tolerance_change: stop zooming when the bracket is this short (in parameter units).
        max_ls: the most evaluations.

    Returns:
        ``(loss, flat_gradient, t, evaluations)`` at the chosen step.
    """
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evaluations = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0.0, loss, grad, gtd
    done = False
    iteration = 0
    # bracketing: grow the step until an interval must contain an acceptable one
    while iteration < max_ls:
        # (the order matters: a step with a small positive slope satisfies the curvature
        # condition and is accepted before the slope's sign would bracket it)
        if f_new > loss + c1 * t * gtd or (iteration > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = [[t, f_new, g_new, gtd_new]], True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        # extrapolate, at least 1% beyond t and at most 10 t
        t_next = cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(t + 0.01 * (t - t_prev), t * 10.0))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new.dot(d))
        iteration += 1
    if iteration == max_ls:
        bracket = [[0.0, loss, grad, gtd], [t, f_new, g_new, gtd_new]]
    # zoom: shrink the bracket; `low` is the end with the lower loss
    insufficient_progress = False
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and iteration < max_ls:
        (a, fa, _, ga), (b, fb, _, gb) = bracket
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = cubic_minimum(a, fa, ga, b, fb, gb)
        # a trial too close to an end of the bracket makes little progress: move it inside,
        # a tenth of the bracket away, unless the previous trial was already moved
        lo, hi = min(a, b), max(a, b)
        margin = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < margin:
            if insufficient_progress or t >= hi or t <= lo:
                t = hi - margin if abs(t - hi) < abs(t - lo) else lo + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new.dot(d))
        iteration += 1
        point = [t, f_new, g_new, gtd_new]
        if f_new > loss + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = point
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = point
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evaluations


class LBFGS(Optimizer):
    """L-BFGS (``torch.optim.LBFGS``: same arguments, defaults and algorithm).

    Each ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations: the direction is
    ``-H g``, with ``H`` the inverse-Hessian estimate built by the two-loop recursion from the
    last ``history_size`` pairs ``(s, y)`` of steps and gradient changes (a pair is kept only
    when ``y . s > 1e-10``, so ``H`` stays positive definite), scaled by ``y . s / y . y``.
    Without a line search the step is ``lr`` (``lr * min(1, 1 / |g|_1)`` the very first time);
    with ``line_search_fn="strong_wolfe"`` that is the first trial of a strong-Wolfe search.
    The iterations stop early when ``max |g| <= tolerance_grad``, when the step or the change of
    the loss falls below ``tolerance_change``, or after ``max_eval`` evaluations.

    The closure must clear the gradients, compute the loss, call ``backward`` and return the
    loss. All parameters form one group (L-BFGS couples them). The state (kept under the first
    parameter, as in PyTorch) holds ``func_evals``, ``n_iter``, the last direction ``d`` and step
    ``t``, the curvature pairs ``old_dirs`` (the ``y``) and ``old_stps`` (the ``s``), ``ro``
    (their ``1 / y . s``), ``H_diag``, ``prev_flat_grad`` and ``prev_loss``, so a later ``step``
    continues from where the previous stopped.

    Args:
        params: tensors to optimise (one group).
        lr: step length (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: first-order optimality tolerance on ``max |g|`` (default 1e-7).
        tolerance_change: tolerance on the step and the loss change (default 1e-9).
        history_size: curvature pairs kept (default 100).
        line_search_fn: ``None`` or ``"strong_wolfe"``.

    References:
        Liu & Nocedal, "On the limited memory BFGS method for large scale optimization",
        Mathematical Programming 45, 1989. Nocedal & Wright, "Numerical Optimization", 2nd ed.,
        algorithms 7.4 (two-loop recursion), 3.5 and 3.6 (strong-Wolfe line search).

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> w = lg.nn.Parameter(lg.tensor([3.0, -1.0], dtype=lg.float64))
        >>> opt = optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]
        [1.0, 1.0]
    """

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None and isinstance(max_iter, int) and not isinstance(max_iter, bool):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             "give all parameters in one group")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _check_group(self, group):
        for key in ("lr", "tolerance_grad", "tolerance_change"):
            check_non_negative("LBFGS", key, group[key])
        for key in ("max_iter", "max_eval", "history_size"):
            check_positive_int("LBFGS", key, group[key])
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")

    # ---- the parameters as one flat vector ---------------------------------------------------

    def _flat_grad(self) -> np.ndarray:
        pieces = []
        for p in self._params:
            if p.grad is None:
                pieces.append(namespace(p.data).zeros_like(p.data, shape=(p.data.size,)))
            else:
                pieces.append(p.grad.data.reshape(-1))
        return np.concatenate(pieces)

    def _flat_params(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self._params]

    def _add_to_params(self, t: float, d: np.ndarray) -> None:
        offset = 0
        for index, p in enumerate(self._params):
            if not writeable(p.data):
                raise RuntimeError(f"LBFGS.step: the array of parameter {index} (shape "
                                   f"{p.shape}) is read-only")
            size = p.data.size
            p.data += (t * d[offset:offset + size]).reshape(p.data.shape).astype(p.data.dtype)
            p._version[0] += 1
            offset += size

    def _set_params(self, values: list[np.ndarray]) -> None:
        for p, value in zip(self._params, values):
            p.data[...] = value
            p._version[0] += 1

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return loss, float(loss), self._flat_grad()

    # ---- the step -------------------------------------------------------------------------------

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss of the first evaluation.

        Args:
            closure: required: clears the gradients, computes the loss, calls ``backward`` and
                returns the loss.
        """
        if closure is None:
            raise ValueError("LBFGS.step: L-BFGS evaluates the loss several times per step; "
                             "pass a closure that clears the gradients, computes the loss, "
                             "calls backward() and returns the loss")
        self.check_hyperparameters()
        self._opt_called = True
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad = float(group["tolerance_grad"])
        tolerance_change = float(group["tolerance_change"])
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss, loss, flat_grad = self._evaluate(closure)
        evaluations = 1
        state["func_evals"] += 1
        if np.abs(flat_grad).max() <= tolerance_grad:
            return first_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:  # keep only pairs of positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
                    h_diag = ys / float(y.dot(y))
                d = self._two_loop(flat_grad, old_dirs, old_stps, ro, h_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tolerance_change:  # not a descent direction (to working precision)
                break
            step_evaluations = 0
            if group["line_search_fn"] == "strong_wolfe":
                start = self._flat_params()

                def evaluate(trial):
                    self._add_to_params(trial, d)
                    _, trial_loss, trial_grad = self._evaluate(closure)
                    self._set_params(start)
                    return trial_loss, trial_grad

                loss, flat_grad, t, step_evaluations = strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, tolerance_change=tolerance_change)
                self._add_to_params(t, d)
            else:
                self._add_to_params(t, d)
                if iteration != max_iter:
                    _, loss, flat_grad = self._evaluate(closure)
                    step_evaluations = 1
            evaluations += step_evaluations
            state["func_evals"] += step_evaluations
            if iteration == max_iter or evaluations >= max_eval:
                break
            if np.abs(flat_grad).max() <= tolerance_grad:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first_loss

    @staticmethod
    def _two_loop(flat_grad, old_dirs, old_stps, ro, h_diag):
        """``-H g`` by the two-loop recursion over the curvature pairs (newest first, then
        oldest first)."""
        q = -flat_grad
        alphas = [0.0] * len(old_dirs)
        for i in range(len(old_dirs) - 1, -1, -1):
            alphas[i] = float(old_stps[i].dot(q)) * ro[i]
            q -= alphas[i] * old_dirs[i]
        r = q * h_diag
        for i in range(len(old_dirs)):
            beta = float(old_dirs[i].dot(r)) * ro[i]
            r += (alphas[i] - beta) * old_stps[i]
        return r
