"""The optimiser comparison's quick mode, on small synthetic IDX images (seconds, no timing)."""
import argparse
import csv
import json
import os

import numpy as np
import pytest

from locograd.data.idx import write_idx
from locograd.experiments import compare
from locograd.experiments.autoencoder import (build_autoencoder, cross_entropy_floor,
                                              load_images)


def _parse(*argv):
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def image_dir(tmp_path):
    """200 grey 8x8 images: blobs at random places, so an autoencoder has something to learn."""
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.arange(8), np.arange(8), indexing="ij"), -1)
    centers = rng.uniform(1, 6, (200, 1, 1, 2))
    images = np.exp(-((grid - centers) ** 2).sum(-1) / 3.0)
    write_idx(os.path.join(tmp_path, "train-images-idx3-ubyte.gz"),
              np.round(images * 255).astype(np.uint8))
    return str(tmp_path)


def test_quick_comparison_writes_table_csv_and_plots(image_dir, tmp_path):
    pytest.importorskip("matplotlib")
    out = os.path.join(tmp_path, "out")
    status = compare.run(_parse("--quick", "--data", image_dir, "--sizes", "64,24,6,24,64",
                                "--out", out, "--quiet"))
    assert status == 0
    assert sorted(os.listdir(out)) == ["comparison.csv", "comparison.md", "histories.json",
                                       "loss_vs_epochs.png", "loss_vs_seconds.png",
                                       "sweep.csv"]
    with open(os.path.join(out, "comparison.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["method"] for row in rows] == list(compare.METHODS)
    # --quick keeps the middle of each grid
    assert [float(row["lr"]) for row in rows] == [m.lrs[len(m.lrs) // 2]
                                                    for m in compare.METHODS.values()]
    with open(os.path.join(out, "histories.json")) as handle:
        saved = json.load(handle)
    images, _ = load_images(image_dir)
    assert saved["floor"] == pytest.approx(cross_entropy_floor(images))
    assert saved["plan"]["batch_size"] == 100 and saved["plan"]["steps_per_epoch"] == 2
    for history in saved["results"]:
        losses = history["losses"]
        assert len(losses) == 3 and len(history["seconds"]) == 3, history["method"]  # 2 epochs
        assert all(np.isfinite(losses)) and losses[0] > saved["floor"], history["method"]
        assert history["seconds"] == sorted(history["seconds"])
    # every method starts from the same weights, so from the same loss
    assert len({round(h["losses"][0], 4) for h in saved["results"]}) == 1
    by_name = {h["method"]: h for h in saved["results"]}
    assert by_name["LocoProp-M"]["losses"][-1] < by_name["LocoProp-M"]["losses"][0]
    # one core per layer: LocoProp's clock without the layer solves beyond the longest one
    for name, history in by_name.items():
        parallel = history.get("layer_parallel_seconds")
        if not name.startswith("LocoProp"):
            assert parallel is None, name
            continue
        assert len(parallel) == 3 and parallel[0] == 0.0
        assert all(0 < p < s for p, s in zip(parallel[1:], history["seconds"][1:])), name
    # the default target is the best first-order final loss, which that method reaches
    first_order = [by_name[n]["losses"][-1] for n, m in compare.METHODS.items() if m.first_order]
    assert saved["target"] == pytest.approx(min(first_order))
    best = min((r for r in rows if compare.METHODS[r["method"]].first_order),
               key=lambda r: float(r["final_loss"]))
    assert best["epochs_to_target"] == "2"
    # equal-time columns: within the shortest total time, the fastest method shows its final
    # loss, and every method at least its initial loss
    budget_columns = [key for key in rows[0] if key.startswith("loss_at_")]
    assert 1 <= len(budget_columns) <= 2
    totals = {h["method"]: h["seconds"][-1] for h in saved["results"]}
    fastest = min(totals, key=totals.get)
    row = next(r for r in rows if r["method"] == fastest)
    assert float(row[budget_columns[0]]) == pytest.approx(min(by_name[fastest]["losses"]))
    for r in rows:
        assert float(r[budget_columns[0]]) <= by_name[r["method"]]["losses"][0]
    with open(os.path.join(out, "comparison.md")) as handle:
        table = handle.read()
    assert "| LocoProp-M |" in table and "cross-entropy floor" in table
    assert "a core per layer" in table
    for r in rows:
        blank = not r["method"].startswith("LocoProp")
        assert (r["layer_parallel_seconds_per_epoch"] == "") == blank, r["method"]
        if not blank:
            assert 0 < float(r["layer_parallel_seconds_per_epoch"]) < float(
                r["seconds_per_epoch"])
    assert saved["images"] == 200 and len(saved["load_average"]) == 2
    # --report rebuilds the same outputs from histories.json, without training
    again = os.path.join(tmp_path, "again")
    compare.run(_parse("--report", os.path.join(out, "histories.json"), "--out", again,
                       "--no-plots"))
    for name in ("comparison.md", "comparison.csv", "sweep.csv"):
        with open(os.path.join(out, name)) as first, open(os.path.join(again, name)) as second:
            assert first.read() == second.read(), name
    for name in ("loss_vs_epochs.png", "loss_vs_seconds.png"):
        with open(os.path.join(out, name), "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_sweep_keeps_the_best_rate_and_reruns_it_for_the_full_length(image_dir, tmp_path):
    out = os.path.join(tmp_path, "out")
    compare.run(_parse("--data", image_dir, "--sizes", "64,16,64", "--batch-size", "50",
                       "--epochs", "3", "--sweep-epochs", "1", "--methods", "Adam",
                       "--lr", "Adam=1e-6,3e-2", "--no-plots", "--out", out, "--quiet",
                       "--target-loss", "1000"))
    with open(os.path.join(out, "sweep.csv")) as handle:
        sweep = list(csv.DictReader(handle))
    assert [(float(r["lr"]), r["epochs"]) for r in sweep] == [(1e-6, "1"), (3e-2, "1")]
    assert [r["kept"] for r in sweep] == ["False", "True"]
    assert float(sweep[1]["final_loss"]) < float(sweep[0]["final_loss"])
    with open(os.path.join(out, "histories.json")) as handle:
        saved = json.load(handle)
    (result,) = saved["results"]
    assert result["lr"] == 3e-2 and len(result["losses"]) == 4  # continued to 3 epochs
    assert result["losses"][1] == pytest.approx(float(sweep[1]["final_loss"]))
    fresh = compare.Run("Adam", 3e-2, load_images(image_dir)[0], saved["plan"] | {
        "sizes": tuple(saved["plan"]["sizes"])}).train(3)
    assert fresh["losses"] == result["losses"]  # the same as a full run from the start
    with open(os.path.join(out, "comparison.csv")) as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["epochs_to_target"] == "0"  # a target above the initial loss is met at once


def test_autoencoder_definition_matches_the_reference():
    import locograd as lg
    model = build_autoencoder(generator=lg.Generator().manual_seed(0))
    linears = [m for m in model if isinstance(m, lg.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == list(
        zip((784, 1000, 500, 250, 30, 250, 500, 1000), (1000, 500, 250, 30, 250, 500, 1000,
                                                         784)))
    assert [type(m).__name__ for m in model].count("Tanh") == 6  # not after the code, output
    assert type(model[6]).__name__ == "Linear" and type(model[7]).__name__ == "Linear"
    assert sum(p.data.size for p in model.parameters()) == 2_837_314
    first = linears[0]
    weight_bound = np.sqrt(6 / (784 + 1000))
    assert 0.95 * weight_bound < np.abs(first.weight.data).max() <= weight_bound
    code = linears[3]  # Glorot biases of n = 30: U(-sqrt(3/30), sqrt(3/30))
    assert 0.5 * np.sqrt(0.1) < np.abs(code.bias.data).max() <= np.sqrt(0.1)


def test_bad_options_are_reported(image_dir, tmp_path):
    out = os.path.join(tmp_path, "out")
    with pytest.raises(ValueError, match="unknown methods"):
        compare.run(_parse("--data", image_dir, "--methods", "LBFGS", "--out", out))
    with pytest.raises(ValueError, match="METHOD=LR"):
        compare.run(_parse("--data", image_dir, "--lr", "Adam", "--out", out))
    with pytest.raises(ValueError, match="64 pixels"):
        compare.run(_parse("--data", image_dir, "--out", out, "--quiet"))  # 784-wide model
    with pytest.raises(FileNotFoundError, match="no IDX image file"):
        compare.run(_parse("--data", str(tmp_path / "missing"), "--out", out))
