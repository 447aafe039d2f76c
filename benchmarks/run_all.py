"""Run every benchmark, each in its own process, and print one Markdown table against the bars.

The benchmarks (see benchmarks/README.md) each pin themselves to one core, interleave locograd
and the references in rounds and compute ratios within a round; this driver runs them one after
the other, collects their JSON output and prints one table: the workload, locograd's figure, the
reference figures, the ratios, the bar of issue 9 and whether it is met, with the machine's load
average before and after (the machines are shared: absolute figures drift, ratios much less).

    python benchmarks/run_all.py [--quick] [--only ae_step,char_rnn] [--json all.json] [-v]

``--quick`` is a smoke run (fewer rounds and steps: the figures are noisier). ``-v`` also echoes
each benchmark's own tables. The exit status is non-zero when a benchmark failed to run (a bar
that is not met is a measurement, not a failure).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

from _common import DEFAULT_REFERENCE, load_average

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (script, full-run arguments, --quick arguments)
BENCHMARKS = {
    "op_overhead": ("op_overhead.py", [], ["--rounds", "3", "--inner", "10"]),
    "ae_step": ("ae_step.py", [], ["--rounds", "2", "--steps", "1", "--rss-steps", "2"]),
    "char_rnn": ("char_rnn.py", [], ["--rounds", "2", "--iters", "10"]),
    "import_time": ("import_time.py", [], ["--runs", "5"]),
    "data_loader": ("data_loader.py", [], ["--rounds", "2"]),
    "second_order": ("second_order.py", ["--steps", "20"], ["--steps", "3"]),
    "locoprop": ("ae_step.py", ["--locoprop", "--rounds", "5"],
                 ["--locoprop", "--rounds", "2"]),
}
TAKES_REFERENCE = ("ae_step", "char_rnn", "locoprop")


def run_benchmark(name: str, quick: bool, reference: str, verbose: bool) -> dict:
    """Run one benchmark in a fresh process; its JSON output, or ``{'error': ...}``."""
    import subprocess
    script, full, fast = BENCHMARKS[name]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        argv = [sys.executable, os.path.join(HERE, script), *(fast if quick else full),
                "--json", out]
        if name in TAKES_REFERENCE:
            argv += ["--reference", reference]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if verbose:
            print(done.stdout, file=sys.stderr)
        if done.returncode != 0:
            return {"error": (done.stdout[-1500:] + done.stderr[-1500:]).strip(),
                    "seconds": seconds}
        if not os.path.exists(out):  # e.g. the MNIST files are absent
            return {"skipped": done.stdout.strip()[-300:], "seconds": seconds}
        with open(out) as f:
            payload = json.load(f)
    payload["seconds"] = seconds
    return payload


def _by(payload: dict, key: str) -> dict:
    return {row[key]: row for row in payload.get("rows", [])}


def _fmt(value, unit: str = "", digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}{unit}"


def _row(workload, locograd, references, ratios, bar="-", met=None) -> dict:
    verdict = "-" if met is None else ("yes" if met else "**no**")
    return {"workload": workload, "locograd": locograd, "reference": references,
            "ratio": ratios, "bar": bar, "met": verdict}


def _ae_step(payload: dict) -> list:
    got = _by(payload, "impl")
    mine, numpy_row, torch_row = got["locograd"], got.get("numpy"), got.get("torch")
    peers = (("NumPy", numpy_row), ("torch", torch_row))
    refs = "; ".join(f"{name} {_fmt(r['ms_per_step'], ' ms', 1)}" for name, r in peers if r) \
        or "reference not found"
    ms = _fmt(mine["ms_per_step"], " ms", 1)
    rows = [_row("AE step (batch 1000, RMSProp)", ms, refs,
                 f"{_fmt(mine['x_numpy'])}x NumPy" if numpy_row else "-", "<= 1.05x NumPy",
                 mine["x_numpy"] <= 1.05 if numpy_row else None)]
    if torch_row:
        rows.append(_row("AE step vs PyTorch eager", ms, refs, f"{_fmt(mine['x_torch'])}x torch",
                         "<= 1.0x torch", mine["x_torch"] <= 1.0))
    roof = f"NumPy {_fmt(numpy_row['roofline'] * 100, '%', 0)}" if numpy_row else "-"
    rows.append(_row("AE step: fraction of the GEMM roofline",
                     _fmt(mine["roofline"] * 100, "%", 0),
                     f"{roof} (GEMMs at {_fmt(payload.get('gemm_gflops'), ' GFLOP/s', 1)})", "-"))
    if numpy_row and isinstance(mine.get("x_numpy_rss"), float):
        refs = "; ".join(f"{name} {_fmt(r['peak_MB'], ' MB', 0)}" for name, r in peers if r)
        rows.append(_row("AE step: peak RSS", _fmt(mine["peak_MB"], " MB", 0), refs,
                         f"{_fmt(mine['x_numpy_rss'])}x NumPy", "<= 1.2x NumPy",
                         mine["x_numpy_rss"] <= 1.2))
    return rows


def _char_rnn(payload: dict) -> list:
    got = _by(payload, "impl")
    mine = got["locograd"]
    labels = (("numpy", "NumPy"), ("torch_loop", "torch loop"), ("torch_nnrnn", "torch nn.RNN"),
              ("locograd_loop", "locograd loop"))
    refs = "; ".join(f"{label} {_fmt(got[key]['ms_per_iter'], ' ms')}"
                     for key, label in labels if key in got)
    if "numpy" not in got:
        refs = f"reference not found; {refs}"
    ratios = "; ".join(f"{_fmt(mine[f'x_{key}'])}x {label}"
                       for key, label in (("numpy", "NumPy"), ("torch_nnrnn", "nn.RNN"))
                       if key in got)
    return [_row("char-RNN iteration (nn.RNN, BPTT 25, Adagrad)", _fmt(mine["ms_per_iter"], " ms"),
                 refs, ratios or "-", "<= 2x NumPy",
                 mine["x_numpy"] <= 2.0 if "numpy" in got else None)]


def _op_overhead(payload: dict) -> list:
    got = _by(payload, "impl")
    mine = got["locograd"]
    us = _fmt(mine["us_per_op"], " us")
    refs = "; ".join(f"{label} {_fmt(got[key]['us_per_op'], ' us')}"
                     for key, label in (("numpy_fwd_bwd", "NumPy fwd+bwd"), ("torch", "torch"))
                     if key in got)
    rows = [_row("per-op forward+backward (chain of 100)", us, refs,
                 f"{_fmt(mine['x_numpy_fwd_bwd'])}x NumPy", "<= 6 us", mine["us_per_op"] <= 6.0)]
    if "torch" in got:
        rows.append(_row("per-op vs PyTorch eager", us,
                         f"torch {_fmt(got['torch']['us_per_op'], ' us')}",
                         f"{_fmt(mine['x_torch'])}x torch", "<= 0.6x torch",
                         mine["x_torch"] <= 0.6))
    return rows


def _import_time(payload: dict) -> list:
    beyond = payload["median_beyond_numpy_s"]
    numpy_s = _by(payload, "command")['python -c "import numpy"']["median_s"]
    return [_row("`import locograd` beyond `import numpy`", _fmt(beyond, " s"),
                 f"python -c 'import numpy' {_fmt(numpy_s, ' s')}", "-", "< 0.3 s",
                 beyond < 0.3)]


def _data_loader(payload: dict) -> list:
    got = _by(payload, "impl")
    mine = got["loader"]
    rate = 10_000 / (mine["ms_per_epoch"] * 1e-3)
    return [_row("DataLoader, MNIST test epoch (batch 1000)",
                 f"{_fmt(mine['ms_per_epoch'], ' ms', 1)} ({rate / 1e3:.0f}k img/s)",
                 f"NumPy loop {_fmt(got['numpy']['ms_per_epoch'], ' ms', 1)}; "
                 f"per-sample {_fmt(got['loader_samples']['ms_per_epoch'], ' ms', 1)}",
                 f"{_fmt(mine['x_numpy'])}x NumPy; "
                 f"{_fmt(mine['pct_of_train_epoch'], '%', 1)} of a training epoch")]


def _second_order(payload: dict) -> list:
    got = _by(payload, "optimizer")
    adam = f"Adam {_fmt(got['adam']['s/step'], ' s', 3)}"
    return [_row(f"{label} step on the AE (refresh amortised)",
                 _fmt(got[name]["s/step"], " s", 3), adam, f"{_fmt(got[name]['x_adam'])}x Adam")
            for name, label in (("shampoo", "Shampoo"), ("kfac", "K-FAC")) if name in got]


def _locoprop(payload: dict) -> list:
    got = _by(payload, "impl")
    return [_row("LocoProp-M step on the AE (10 inner steps)",
                 _fmt(got["locoprop"]["s_per_step"], " s", 3),
                 f"backprop RMSProp step {_fmt(got['locograd']['s_per_step'], ' s', 3)}",
                 f"{_fmt(got['locoprop']['x_backprop_step'])}x backprop")]


SUMMARIES = {"ae_step": _ae_step, "char_rnn": _char_rnn, "op_overhead": _op_overhead,
             "import_time": _import_time, "data_loader": _data_loader,
             "second_order": _second_order, "locoprop": _locoprop}


def summarise(results: dict) -> list:
    """The table rows, one or more per benchmark (the bars of issue 9 where it sets one), in the
    order of ``SUMMARIES``; a benchmark without its figures gets a row saying why."""
    rows = []
    for name, summary in SUMMARIES.items():
        if name not in results:
            continue
        payload = results[name]
        try:
            rows += summary(payload)
        except KeyError:  # no figures: failed, skipped (no data) or nothing to measure
            reason = "failed (the error is on stderr and in --json)" if "error" in payload else \
                payload.get("skipped") or payload.get("missing") or "no figures"
            rows.append(_row(name, reason.splitlines()[-1][:80], "-", "-"))
    return rows


def print_summary(rows: list, load_before, load_after, quick: bool) -> None:
    cols = ["workload", "locograd", "reference", "ratio", "bar", "met"]
    print(f"locograd benchmarks{' (--quick)' if quick else ''}: one pinned core, ratios within "
          f"a round; load average (1, 5, 15 min) {load_before} before, {load_after} after\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a fast smoke run (noisier figures)")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    ap.add_argument("--reference", default=DEFAULT_REFERENCE,
                    help="directory of the reference programs")
    ap.add_argument("--json", default=None, help="save every benchmark's figures to this file")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="echo each benchmark's own output (to stderr)")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        ap.error(f"unknown benchmarks {unknown}; choose from {list(BENCHMARKS)}")

    load_before = load_average()
    results = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = run_benchmark(name, args.quick, args.reference, args.verbose)
        status = "FAILED" if "error" in results[name] else "done"
        print(f"  {status} in {results[name]['seconds']:.0f} s (load {load_average()[0]})",
              file=sys.stderr, flush=True)
        if "error" in results[name]:
            print(results[name]["error"], file=sys.stderr)
    load_after = load_average()
    rows = summarise(results)
    print_summary(rows, load_before, load_after, args.quick)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": rows, "load_before": load_before, "load_after": load_after,
                       "quick": args.quick, "results": results}, f, indent=1)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
