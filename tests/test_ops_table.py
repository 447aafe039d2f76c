"""The op table runner: every ``OpSpec`` (``tests/opspecs``) through every check.

For each spec and inputs drawn by hypothesis (an integer seed fed to ``spec.inputs``):

* the forward against the NumPy ``reference`` (float64), inputs left untouched;
* ``gradcheck``: the full finite-difference Jacobian in float64. ``lg.grad`` without
  ``create_graph`` runs each op's one rule on arrays (the fast path);
* the same rule on tensors (``create_graph=True``) and ``.backward()`` into ``.grad`` agree
  with it;
* ``gradgradcheck`` where ``spec.second_order``;
* the random-direction check ``<v, J u>`` (``fast_mode=True``, also at second order) on
  ``spec.large_inputs``;
* float32 inputs stay float32 through the forward and the backward.

Coverage: every ``Function`` defined in a module of ``locograd.ops`` must be named by some
spec's ``covers`` (or be exempted below with a reason), and every name a spec lists in
``covers`` must really appear in the graphs (forward, backward, double backward) it builds.

Set ``LOCOGRAD_OP_EXAMPLES`` to draw more examples per spec (default 3; CI uses the default,
and the draws are derandomized so a run is reproducible).
"""
from __future__ import annotations

import importlib
import os
import pkgutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import locograd as lg
import locograd.ops
from locograd.autograd import Function, gradcheck, gradgradcheck
from opspecs import all_specs

SPECS = all_specs()
EXAMPLES = int(os.environ.get("LOCOGRAD_OP_EXAMPLES", "3"))
table = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def _params(specs):
    return pytest.mark.parametrize("spec", specs, ids=[s.name for s in specs])


def _leaves(arrays, dtype=np.float64):
    """Leaf tensors for a spec: float arrays require grad (as ``dtype``), others do not."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            out.append(lg.tensor(a.astype(dtype), requires_grad=True))
        else:
            out.append(lg.tensor(a))
    return tuple(out)


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _live(outputs):
    """The outputs a gradient can flow from (float, recorded)."""
    return [o for o in outputs if o.requires_grad and o.dtype.kind == "f"]


def _directions(rng, outputs, dtype=np.float64):
    return [lg.tensor(rng.standard_normal(o.shape).astype(dtype)) for o in outputs]


def _inputs(spec, seed, large=False):
    rng = np.random.default_rng(seed)
    make = spec.large_inputs if large and spec.large_inputs is not None else spec.inputs
    return tuple(np.asarray(a) for a in make(rng)), rng


def _diff(leaves):
    return [t for t in leaves if t.requires_grad]


# ------------------------------------------------------------------------------ the checks

@_params([s for s in SPECS if s.reference is not None])
@table
@given(seed=seeds)
def test_forward_matches_reference(spec, seed):
    arrays, _ = _inputs(spec, seed)
    leaves = _leaves(arrays)
    outs = _as_tuple(spec.fn(*leaves))
    refs = _as_tuple(spec.reference(*[a.copy() for a in arrays]))
    assert len(outs) == len(refs), f"{spec.name}: {len(outs)} outputs, reference gives {len(refs)}"
    for k, (o, r) in enumerate(zip(outs, refs)):
        r = np.asarray(r)
        assert o.shape == r.shape, \
            f"{spec.name}: output {k} has shape {o.shape}, expected {r.shape}"
        if o.dtype.kind == "f":
            assert o.dtype == np.float64, f"{spec.name}: output {k} is {o.dtype} for float64 inputs"
        np.testing.assert_allclose(o.numpy(), r, rtol=1e-7, atol=1e-10,
                                   err_msg=f"{spec.name}: output {k}")
    for t, a in zip(leaves, arrays):
        np.testing.assert_array_equal(t.numpy(), a, err_msg=f"{spec.name} modified its input")


@_params(SPECS)
@table
@given(seed=seeds)
def test_gradcheck(spec, seed):
    arrays, _ = _inputs(spec, seed)
    assert gradcheck(spec.fn, _leaves(arrays), atol=spec.atol, rtol=spec.rtol)


@_params(SPECS)
@table
@given(seed=seeds)
def test_backward_paths_agree(spec, seed):
    """The rule on arrays (no graph), on tensors (recorded) and ``.backward()`` into ``.grad``."""
    arrays, rng = _inputs(spec, seed)
    leaves = _leaves(arrays)
    live = _live(_as_tuple(spec.fn(*leaves)))
    if not live:
        pytest.fail(f"{spec.name}: no output requires grad")
    vs = _directions(rng, live)
    diff = _diff(leaves)
    fast = lg.grad(live, diff, vs, retain_graph=True, allow_unused=True)
    recorded = lg.grad(live, diff, vs, create_graph=True, allow_unused=True)
    fresh = _leaves(arrays)
    lg.autograd.backward(_live(_as_tuple(spec.fn(*fresh))), vs)
    accumulated = [t.grad for t in _diff(fresh)]
    for i, (t, a, b, c) in enumerate(zip(diff, fast, recorded, accumulated)):
        if a is None:
            assert b is None and c is None, f"{spec.name}: input {i} unused on one path only"
            continue
        for name, g in (("create_graph=True", b), (".backward()", c)):
            assert g is not None, f"{spec.name}: input {i} got no gradient through {name}"
            assert g.shape == t.shape and g.dtype == t.dtype, \
                f"{spec.name}: gradient {i} via {name} is {g.shape} {g.dtype}"
            np.testing.assert_allclose(g.numpy(), a.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{spec.name}: input {i}, {name} vs the fast path")


@_params([s for s in SPECS if s.second_order])
@table
@given(seed=seeds)
def test_gradgradcheck(spec, seed):
    arrays, _ = _inputs(spec, seed)
    assert gradgradcheck(spec.fn, _leaves(arrays), atol=spec.atol, rtol=spec.rtol, seed=seed)


@_params(SPECS)
@table
@given(seed=seeds)
def test_random_direction_check_on_larger_shapes(spec, seed):
    arrays, _ = _inputs(spec, seed, large=True)
    leaves = _leaves(arrays)
    assert gradcheck(spec.fn, leaves, atol=spec.atol, rtol=spec.rtol, fast_mode=True, seed=seed)
    if spec.second_order:
        assert gradgradcheck(spec.fn, leaves, atol=spec.atol, rtol=spec.rtol, fast_mode=True,
                             seed=seed)


@_params([s for s in SPECS if s.float32])
@table
@given(seed=seeds)
def test_float32_stays_float32(spec, seed):
    arrays, rng = _inputs(spec, seed)
    outs64 = _as_tuple(spec.fn(*_leaves(arrays)))
    leaves = _leaves(arrays, np.float32)
    outs = _as_tuple(spec.fn(*leaves))
    for k, (o, o64) in enumerate(zip(outs, outs64)):
        if o64.dtype.kind == "f":
            assert o.dtype == np.float32, f"{spec.name}: output {k} became {o.dtype}"
            scale = max(1.0, float(np.abs(o64.numpy()).max(initial=0.0)))
            np.testing.assert_allclose(o.numpy(), o64.numpy(), rtol=2e-3, atol=2e-4 * scale,
                                       err_msg=f"{spec.name}: float32 output {k}")
    live = _live(outs)
    grads = lg.grad(live, _diff(leaves), _directions(rng, live, np.float32), allow_unused=True)
    for i, g in enumerate(grads):
        assert g is None or g.dtype == np.float32, f"{spec.name}: gradient {i} is {g.dtype}"


# ------------------------------------------------------------------------------ random shapes

binary_ops = {
    "add": (lambda a, b: a + b, None),
    "sub": (lambda a, b: a - b, None),
    "mul": (lambda a, b: a * b, None),
    "div": (lambda a, b: a / b, "nonzero"),
    "pow": (lambda a, b: a ** b, "positive"),
    "maximum": (lg.maximum, "apart"),
    "where": (lambda a, b: lg.where(a > b, a * b, b - a), "apart"),
}


@pytest.mark.parametrize("name", sorted(binary_ops))
@settings(max_examples=4 * EXAMPLES, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_binary_ops_on_random_broadcast_shapes(name, data):
    """Random broadcasting shapes and values (hypothesis): gradients reduce to each input's
    shape and match finite differences."""
    fn, domain = binary_ops[name]
    (sa, sb), out_shape = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                      max_side=3))
    if domain == "apart":
        # ties are kinks: a on odd, b on even multiples of 0.1, so they never meet
        ints = st.integers(-8, 8)
        a = (2 * data.draw(hnp.arrays(np.int64, sa, elements=ints)) + 1) * 0.1
        b = 2 * data.draw(hnp.arrays(np.int64, sb, elements=ints)) * 0.1
    else:
        values = st.floats(-2.0, 2.0, allow_nan=False, width=64)
        a = data.draw(hnp.arrays(np.float64, sa, elements=values))
        b = data.draw(hnp.arrays(np.float64, sb, elements=values))
    if domain == "positive":
        a = np.abs(a) + 0.5
    elif domain == "nonzero":
        b = np.where(np.abs(b) < 0.3, 0.3 + np.abs(b), b)
    ta = lg.tensor(a, requires_grad=True)
    tb = lg.tensor(b, requires_grad=True)
    assert fn(ta, tb).shape == tuple(out_shape)
    assert gradcheck(fn, (ta, tb))
    ga, gb = lg.grad(fn(ta, tb).sum(), (ta, tb))
    assert ga.shape == ta.shape and gb.shape == tb.shape


reductions = {
    "sum": lambda x, dim, keep: x.sum(dim, keepdim=keep),
    "mean": lambda x, dim, keep: x.mean(dim, keepdim=keep),
    "var": lambda x, dim, keep: x.var(dim, keepdim=keep, correction=0),
    "amax": lambda x, dim, keep: x.amax(dim, keepdim=keep),
    "logsumexp": lambda x, dim, keep: x.logsumexp(dim, keepdim=keep),
}


@pytest.mark.parametrize("name", sorted(reductions))
@settings(max_examples=4 * EXAMPLES, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_reductions_over_random_dims(name, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1,
                              max_size=len(shape), unique_by=lambda d: d % len(shape)))
    dim = tuple(dims) if len(dims) > 1 else dims[0]
    keep = data.draw(st.booleans())
    seed = data.draw(seeds)
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    # distinct values: amax has a kink where two entries tie
    x = lg.tensor(((rng.permutation(n) - n / 2) * 0.3).reshape(shape), requires_grad=True)
    fn = reductions[name]
    out = fn(x, dim, keep)
    axes = tuple(d % len(shape) for d in dims)
    expected = tuple(1 if i in axes else s for i, s in enumerate(shape)) if keep else \
        tuple(s for i, s in enumerate(shape) if i not in axes)
    assert out.shape == expected
    assert gradcheck(lambda t: fn(t, dim, keep), (x,))
    assert gradgradcheck(lambda t: fn(t, dim, keep), (x,))


# ------------------------------------------------------------------------------ coverage

# Functions of ``locograd.ops`` that no spec needs to name, each with the reason. (Internal
# backward nodes such as TanhGrad or SumTo are *named* by the specs whose second-order check
# builds them, e.g. "tanh" and "broadcast_to", so they need no exemption.)
EXEMPT: dict[str, str] = {}


def _ops_functions() -> dict[str, type]:
    found = {}
    for info in pkgutil.iter_modules(locograd.ops.__path__):
        module = importlib.import_module(f"locograd.ops.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Function) and \
                    obj.__module__ == module.__name__:
                found[obj.__name__] = obj
    return found


def _graph_nodes(tensors) -> set[str]:
    """Names of the Function classes reachable from ``tensors``."""
    seen, names = set(), set()
    stack = [t.grad_fn for t in tensors if t is not None and t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        names.add(type(node).__name__)
        for edge in node._next:
            if edge is not None and isinstance(edge[0], Function):
                stack.append(edge[0])
    return names


def _observed(spec) -> set[str]:
    arrays, rng = _inputs(spec, 0)
    leaves = _leaves(arrays)
    outs = _as_tuple(spec.fn(*leaves))
    names = _graph_nodes(outs)
    live, diff = _live(outs), _diff(leaves)
    if not live:
        return names
    # directions that require grad: the backward of a linear op (getitem, broadcast_to...) is
    # recorded only when the incoming gradient itself is differentiated, as in gradgradcheck
    vs = [v.requires_grad_() for v in _directions(rng, live)]
    grads = lg.grad(live, diff, vs, create_graph=True, allow_unused=True)
    names |= _graph_nodes(grads)
    used = [(g, t) for g, t in zip(grads, diff) if g is not None and g.requires_grad]
    if used and spec.second_order:
        ws = [lg.tensor(rng.standard_normal(g.shape), requires_grad=True) for g, _ in used]
        total = sum((g * w).sum() for (g, _), w in zip(used, ws))
        names |= _graph_nodes(lg.grad(total, [t for _, t in used] + vs + ws, create_graph=True,
                                      allow_unused=True))
    return names


def test_every_ops_function_is_covered_by_a_spec():
    functions = _ops_functions()
    covered = {name for spec in SPECS for name in spec.covers}
    missing = sorted(set(functions) - covered - set(EXEMPT))
    assert not missing, (f"Functions in locograd.ops without an OpSpec naming them in 'covers' "
                         f"(add a spec to tests/opspecs/<family>.py): {missing}")
    stale = sorted(name for name in EXEMPT if name not in functions or name in covered)
    assert not stale, f"exemptions that no longer apply (remove them): {stale}"


@_params(SPECS)
def test_covers_are_real_and_exercised(spec):
    functions = _ops_functions()
    unknown = [n for n in spec.covers if n not in functions]
    assert not unknown, f"{spec.name}: covers names no Function of locograd.ops: {unknown}"
    missing = sorted(set(spec.covers) - _observed(spec))
    assert not missing, (f"{spec.name}: covers {missing}, but no such node appears in the graphs "
                         f"its fn builds (forward, backward, double backward)")


def test_spec_names_are_unique_and_cover_every_family():
    import opspecs
    assert len({s.name for s in SPECS}) == len(SPECS)
    for family in ("elementwise", "reduce", "shape", "indexing", "linalg"):
        module = importlib.import_module(f"opspecs.{family}")
        assert module.SPECS, f"opspecs.{family} has no specs"
    assert set(opspecs.FAMILIES) >= {"elementwise", "reduce", "shape", "indexing", "linalg"}
