"""``Shampoo``: Kronecker-factored preconditioning of each weight matrix, with grafting.

A parameter viewed as a matrix ``G`` (m x n) keeps a left statistic ``L`` (m x m, from ``G G^T``)
and a right statistic ``R`` (n x n, from ``G^T G``); its direction is ``L^(-1/4) G R^(-1/4)``, the
full-matrix AdaGrad of a Kronecker-factored approximation. The rule runs inside the ``Optimizer``
design of ``optim/optimizer.py``: statistics and roots are entries of the parameter's state
record (so ``state_dict`` round-trips them exactly), temporaries go to the parameter's workspace.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from ..backend import namespace
from ._matrix import RootError, _eye_like, inverse_pth_root
from ._rules import AddL2Decay, CountStep, Descend, Rule, _materialize, _state_buffer
from .optimizer import (Optimizer, check_common, check_non_negative, check_positive_int,
                        check_unit_interval)

__all__ = ["Shampoo"]

GRAFTING = ("sgd", "adagrad", "rmsprop", "rmsprop_normalized", "none")
ROOT_METHODS = ("eigh", "newton")


class _Layout(NamedTuple):
    """How a parameter is preconditioned: as a ``shape`` matrix cut into row and column blocks
    (``(start, stop)`` pairs); block ``(i, j)`` is stored at index ``i * len(cols) + j``."""

    shape: tuple
    rows: tuple
    cols: tuple

    def blocks(self, matrix: np.ndarray):
        for r0, r1 in self.rows:
            for c0, c1 in self.cols:
                yield matrix[r0:r1, c0:c1]


def _matrix_shape(shape: tuple) -> tuple | None:
    """The parameter as a matrix: size-1 dims dropped, more than two dims merged into the most
    balanced (rows, cols) split; ``None`` for scalars and vectors (the diagonal rule)."""
    dims = [d for d in shape if d != 1]
    if len(dims) < 2:
        return None
    splits = [(math.prod(dims[:k]), math.prod(dims[k:])) for k in range(1, len(dims))]
    return min(splits, key=max)


@functools.lru_cache(maxsize=256)
def _layout(shape: tuple, block_size: int, max_dim: int) -> _Layout | None:
    matrix = _matrix_shape(shape)
    if matrix is None or max(matrix) > max_dim:
        return None

    def cuts(n):
        return tuple((s, min(s + block_size, n)) for s in range(0, n, block_size))

    return _Layout(matrix, cuts(matrix[0]), cuts(matrix[1]))


def _scratch(workspace, count: int, avoid: tuple) -> list:
    """``count`` distinct workspace arrays, none of them in ``avoid``."""
    free = [b for b in workspace.buffers if not any(b is a for a in avoid)]
    while len(free) < count:
        buffer = workspace.new_array()
        workspace.buffers.append(buffer)
        free.append(buffer)
    return free[:count]


def _norm(array: np.ndarray) -> float:
    flat = array.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


class ScaleByShampoo(Rule):
    """Shampoo's direction, grafted onto a diagonal rule's norm (see ``Shampoo``).

    State entries: ``graft_accumulator`` (AdaGrad/RMSprop grafting), and for preconditioned
    parameters the per-block lists ``left_statistics``, ``right_statistics``, ``left_roots``,
    ``right_roots`` and the count ``root_failures``.
    """

    state_keys = ("graft_accumulator",)

    def update(self, direction, scale, param, state, group, workspace):
        grad = _materialize(direction, scale, workspace)
        step = state["step"]
        graft = self._graft(grad, param, state, group, workspace)
        layout = _layout(param.shape, int(group["block_size"]),
                         int(group["max_preconditioner_dim"]))
        if layout is None:
            return graft, 1.0
        matrix = grad.reshape(layout.shape)
        if (step - 1) % int(group["statistics_compute_steps"]) == 0:
            self._accumulate(matrix, layout, state, float(group["betas"][1]))
        start = int(group["start_preconditioning_step"])
        if step < start:
            return graft, 1.0
        if (step - start) % int(group["preconditioning_compute_steps"]) == 0 \
                or "left_roots" not in state:
            self._refresh_roots(layout, state, group, param.dtype)
        temp, out = _scratch(workspace, 2, (grad, graft))
        blocks = zip(layout.blocks(matrix), layout.blocks(temp.reshape(layout.shape)),
                     layout.blocks(out.reshape(layout.shape)))
        for index, (block, middle, result) in enumerate(blocks):  # P_L G P_R per block
            left = state["left_roots"][index]
            right = state["right_roots"][index]
            np.matmul(left, block, out=middle)
            np.matmul(middle, right, out=result)
        if group["grafting"] == "none":
            return out, 1.0
        return out, _norm(graft) / (_norm(out) + 1e-16)

    @staticmethod
    def _graft(grad, param, state, group, workspace):
        """The diagonal direction whose norm Shampoo's direction takes (and the update before
        ``start_preconditioning_step`` and for parameters without statistics)."""
        grafting = group["grafting"]
        if grafting in ("sgd", "none"):
            return grad
        out, temp = _scratch(workspace, 2, (grad,))
        if grafting == "rmsprop_normalized":
            np.multiply(grad, 1.0 / (_norm(grad) + 1e-16), out=out)
        else:
            np.copyto(out, grad)
        accumulator = _state_buffer(state, "graft_accumulator", param)
        np.multiply(out, out, out=temp)
        if grafting == "adagrad":
            accumulator += temp
        else:
            beta2 = float(group["betas"][1])
            accumulator *= beta2
            temp *= 1.0 - beta2
            accumulator += temp
        np.sqrt(accumulator, out=temp)
        temp += float(group["graft_epsilon"])
        out /= temp
        return out

    @staticmethod
    def _accumulate(matrix, layout, state, beta2):
        """``S <- beta2 S + (1 - beta2) X X^T`` for both sides of every block (a sum if
        ``beta2 == 1``)."""
        if "left_statistics" not in state:
            xp = namespace(matrix)  # on the parameter's device
            state["left_statistics"] = [xp.zeros_like(b, shape=(b.shape[0],) * 2)
                                        for b in layout.blocks(matrix)]
            state["right_statistics"] = [xp.zeros_like(b, shape=(b.shape[1],) * 2)
                                         for b in layout.blocks(matrix)]
        lefts, rights = state["left_statistics"], state["right_statistics"]
        count = len(layout.rows) * len(layout.cols)
        if len(lefts) != count or len(rights) != count:
            raise RuntimeError(f"Shampoo: the state holds {len(lefts)} blocks of statistics but "
                               f"a {layout.shape} matrix with this block_size has {count}; was "
                               f"the state saved with another block_size?")
        weight = 1.0 if beta2 == 1.0 else 1.0 - beta2
        for block, left, right in zip(layout.blocks(matrix), lefts, rights):
            for statistic, product in ((left, block @ block.T), (right, block.T @ block)):
                if beta2 != 1.0:
                    statistic *= beta2
                    product *= weight
                statistic += product

    @staticmethod
    def _refresh_roots(layout, state, group, dtype):
        """New inverse roots from the statistics; a failed root keeps the previous one (the
        identity before the first success) and counts in ``state['root_failures']``."""
        p = group["exponent_override"] or 4  # 2 x the number of factors: -1/4 for a matrix
        if "left_roots" not in state:
            state["left_roots"] = [_eye_like(s, s.shape[0], dtype)
                                   for s in state["left_statistics"]]
            state["right_roots"] = [_eye_like(s, s.shape[0], dtype)
                                    for s in state["right_statistics"]]
            state["root_failures"] = 0
        for side in ("left", "right"):
            roots = state[f"{side}_roots"]
            for index, statistic in enumerate(state[f"{side}_statistics"]):
                if not statistic.any():
                    continue  # nothing seen yet (a zero gradient): keep the identity
                try:
                    root = inverse_pth_root(
                        statistic, int(p), float(group["epsilon"]), group["root_method"],
                        failure_threshold=float(group["inverse_failure_threshold"]))
                except RootError:
                    state["root_failures"] += 1
                    continue
                roots[index] = root.astype(dtype)


class ShampooMomentum(Rule):
    """Shampoo's momentum (``beta1 = betas[0]``, skipped when 0), with ``w = 1 - beta1`` if
    ``moving_average_for_momentum`` else ``w = 1``::

        m <- beta1 * m + w * d                  (m starts at 0)
        d <- beta1 * m + w * d   (nesterov)   or   d <- m
    """

    state_keys = ("momentum_buffer",)

    def update(self, direction, scale, param, state, group, workspace):
        beta1 = float(group["betas"][0])
        if beta1 == 0.0:
            return direction, scale
        weight = 1.0 - beta1 if group["moving_average_for_momentum"] else 1.0
        direction = _materialize(direction, scale * weight, workspace)  # w * d
        buffer = _state_buffer(state, "momentum_buffer", param)
        buffer *= beta1
        buffer += direction
        if not group["nesterov"]:
            return buffer, 1.0
        (temp,) = _scratch(workspace, 1, (direction,))
        np.multiply(buffer, beta1, out=temp)
        temp += direction
        return temp, 1.0


class Shampoo(Optimizer):
    """Shampoo with grafting, blocking and delayed, infrequent inverse roots.

    A parameter seen as a matrix ``G`` (m x n), with ``beta1, beta2 = betas``, at step ``t``::

        L <- beta2 L + (1 - beta2) G G^T,  R <- beta2 R + (1 - beta2) G^T G
                                          (every statistics_compute_steps; a sum if beta2 = 1)
        P_L = (L + epsilon lambda_max(L) I)^(-1/4), likewise P_R
                                          (every preconditioning_compute_steps, from
                                           start_preconditioning_step on)
        D = graft(G)                      (the diagonal rule, below)
        S = P_L G P_R * ||D||_F / ||P_L G P_R||_F      if t >= start_preconditioning_step
        S = D                                           otherwise
        S <- S + weight_decay * p
        m <- beta1 m + w S  (w = 1 - beta1 if moving_average_for_momentum else 1)
        p <- p - lr (beta1 m + w S)   if nesterov   else   p <- p - lr m

    Grafting (Agarwal et al.) takes the step's size per parameter from a diagonal rule and only
    its direction from Shampoo, since Shampoo's own implicit step-size schedule does not work
    well (Anil et al.)::

        'sgd':                D = G
        'adagrad':            a <- a + G^2;                     D = G / (sqrt(a) + graft_epsilon)
        'rmsprop':            a <- beta2 a + (1 - beta2) G^2;   D = G / (sqrt(a) + graft_epsilon)
        'rmsprop_normalized': as 'rmsprop' on G / ||G||_F
        'none':               no rescaling (S = P_L G P_R); D = G before the start step

    Shapes: size-1 dimensions are dropped; a parameter with more than two dimensions is
    reshaped to the most balanced matrix (a (64, 32, 3, 3) convolution kernel becomes 64 x 288);
    dimensions longer than ``block_size`` are cut into blocks, each with its own ``L`` and ``R``.
    Vectors (biases), scalars, and parameters with a dimension above ``max_preconditioner_dim``
    get the graft direction ``D`` alone (SGD's, for ``'sgd'`` and ``'none'``).

    Roots are computed in float64 (``'eigh'``, or ``'newton'``: coupled Newton iteration, see
    ``optim._matrix.inverse_pth_root``) and stored in the parameter's dtype. A root that fails
    (non-finite statistics, no convergence, Newton's error above
    ``inverse_failure_threshold``) keeps the previous preconditioner (the identity before the
    first success) and is counted in ``state[p]['root_failures']`` and ``root_failures``;
    training goes on. Statistics start at zero; before the first non-zero gradient the
    preconditioner stays the identity.

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate (default 1e-3; with RMSprop grafting the step is Adam-sized).
        betas: ``(beta1, beta2)``: momentum (0 for none) and the statistics' (and RMSprop
            graft's) decay; ``beta2 = 1`` sums the statistics as the original AdaGrad-style
            Shampoo (default (0.9, 0.999)). RMSprop grafting needs ``beta2 < 1``.
        epsilon: ridge added to each statistic before its root, relative to its largest
            eigenvalue: it caps the condition number near ``1/epsilon`` (default 1e-6).
        block_size: the longest block side (default 1024: a 1000 x 784 layer is one block).
        start_preconditioning_step: the first step that uses Shampoo's direction; earlier
            steps use the graft direction while the statistics accumulate (default 101).
        preconditioning_compute_steps: recompute the roots every this many steps, counted from
            ``start_preconditioning_step`` (default 20).
        statistics_compute_steps: update ``L`` and ``R`` every this many steps (default 1).
        grafting: ``'sgd'``, ``'adagrad'``, ``'rmsprop'``, ``'rmsprop_normalized'`` (default)
            or ``'none'``.
        graft_epsilon: the graft's denominator offset (default 1e-8).
        nesterov: Nesterov momentum (default True).
        moving_average_for_momentum: ``w = 1 - beta1`` instead of 1 (default True).
        weight_decay: coupled L2 coefficient, added after grafting (default 0).
        exponent_override: use ``-1/exponent_override`` as the roots' exponent instead of -1/4
            (a positive int; default None).
        max_preconditioner_dim: parameters with a (matrix) dimension above this get the graft
            direction alone (default 4096).
        inverse_failure_threshold: Newton roots whose ``max|X^p A - I|`` exceeds this are
            failures (default 0.1).
        root_method: ``'eigh'`` (float64 eigendecomposition, default) or ``'newton'``.

    The defaults follow the AlgoPerf Shampoo baseline (block 1024, betas (0.9, 0.999), matrix
    epsilon 1e-6, graft epsilon 1e-8, start 101, roots every 20 steps, normalised RMSprop
    grafting, Nesterov with moving-average momentum), a sensible start for the deep
    autoencoder; tune ``lr`` and ``weight_decay``. Deliberate differences from optax's
    ``distributed_shampoo``: one momentum buffer (for the update in use) instead of two (one for
    Shampoo's and one for the graft's direction), and no rank-k tensors: a parameter is always a
    matrix (or gets the graft direction).

    Cost per step for an m x n block: ``2mn(m + n)`` FLOPs for the statistics and as many for
    the direction; per refresh, one float64 ``eigh`` per side (or about ``(p + 2)`` matrix
    products per Newton step).

    References:
        Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization",
        ICML 2018, arXiv:1802.09568.
        Anil, Gupta, Koren, Regan & Singer, "Scalable Second Order Optimization for Deep
        Learning", arXiv:2002.09018, 2020 (grafting, blocking, delayed roots, relative epsilon).
        Agarwal, Anil, Hazan, Koren & Zhang, "Disentangling Adaptive Gradient Methods from
        Learning Rates", arXiv:2002.11803, 2020 (grafting).
        Guo & Higham, "A Schur-Newton Method for the Matrix p-th Root and its Inverse", SIAM J.
        Matrix Anal. Appl., 2006.

    Example:
        >>> import locograd as lg
        >>> from locograd import optim
        >>> _ = lg.manual_seed(0)
        >>> model = lg.nn.Linear(4, 3)
        >>> opt = optim.Shampoo(model.parameters(), lr=0.1, start_preconditioning_step=1,
        ...                     preconditioning_compute_steps=1)
        >>> x, y = lg.randn(16, 4), lg.randn(16, 3)
        >>> for _ in range(3):
        ...     opt.zero_grad(); lg.nn.functional.mse_loss(model(x), y).backward()
        ...     _ = opt.step()
        >>> [s.shape for s in opt.state[model.weight]["left_statistics"]], opt.root_failures
        ([(3, 3)], 0)
    """

    rules = (CountStep(), ScaleByShampoo(), AddL2Decay(), ShampooMomentum(), Descend())

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), epsilon=1e-6, block_size=1024,
                 start_preconditioning_step=101, preconditioning_compute_steps=20,
                 statistics_compute_steps=1, grafting="rmsprop_normalized", graft_epsilon=1e-8,
                 nesterov=True, moving_average_for_momentum=True, weight_decay=0.0,
                 exponent_override=None, max_preconditioner_dim=4096,
                 inverse_failure_threshold=0.1, root_method="eigh"):
        defaults = dict(lr=lr, betas=betas, epsilon=epsilon, block_size=block_size,
                        start_preconditioning_step=start_preconditioning_step,
                        preconditioning_compute_steps=preconditioning_compute_steps,
                        statistics_compute_steps=statistics_compute_steps, grafting=grafting,
                        graft_epsilon=graft_epsilon, nesterov=nesterov,
                        moving_average_for_momentum=moving_average_for_momentum,
                        weight_decay=weight_decay, exponent_override=exponent_override,
                        max_preconditioner_dim=max_preconditioner_dim,
                        inverse_failure_threshold=inverse_failure_threshold,
                        root_method=root_method)
        super().__init__(params, defaults)

    @property
    def root_failures(self) -> int:
        """How many inverse roots failed (and kept their previous value), over all parameters."""
        return sum(record.get("root_failures", 0) for record in self.state.values())

    def _check_group(self, group):
        owner = "Shampoo"
        check_common(owner, group)
        for key in ("epsilon", "graft_epsilon", "inverse_failure_threshold"):
            check_non_negative(owner, key, group[key])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_unit_interval(owner, "beta1", betas[0])
        check_unit_interval(owner, "beta2", betas[1], closed=True)
        for key in ("block_size", "start_preconditioning_step", "preconditioning_compute_steps",
                    "statistics_compute_steps", "max_preconditioner_dim"):
            check_positive_int(owner, key, group[key])
        exponent = group["exponent_override"]
        if exponent is not None and (isinstance(exponent, bool) or not isinstance(
                exponent, (int, np.integer)) or exponent < 1):
            raise ValueError(f"{owner}: exponent_override must be None or a positive int, got "
                             f"{exponent!r}")
        if group["grafting"] not in GRAFTING:
            raise ValueError(f"{owner}: grafting must be one of {GRAFTING}, got "
                             f"{group['grafting']!r}")
        if group["grafting"].startswith("rmsprop") and float(betas[1]) == 1.0:
            raise ValueError(f"{owner}: grafting={group['grafting']!r} needs beta2 < 1 (its "
                             f"moving average would stay at zero); use grafting='adagrad' with "
                             f"beta2 = 1")
        if group["root_method"] not in ROOT_METHODS:
            raise ValueError(f"{owner}: root_method must be one of {ROOT_METHODS}, got "
                             f"{group['root_method']!r}")
