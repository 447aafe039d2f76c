#!/usr/bin/env bash
# The GPU check of issue 18, for a machine with CuPy and an NVIDIA GPU (one run, under ~8 min):
#
#   1. the device tests on the real GPU: LOCOGRAD_TEST_REAL_CUDA=1 pytest tests/test_device.py
#      tests/test_device_training.py (the op table forward and backward, the optimisers, RNNs,
#      the CNN, LocoProp, fit and checkpoints, on CuPy instead of the CPU stand-in);
#   2. the deep-autoencoder step on the GPU against PyTorch CUDA eager in the same process
#      (benchmarks/ae_step.py --device cuda --locoprop: ms per step, x torch), with one
#      LocoProp-M step;
#   3. locograd compare --device cuda for RMSProp, Shampoo, K-FAC, LocoProp-S and LocoProp-M:
#      seconds to the target loss on the GPU (comparison.md).
#
# Everything lands in $OUT (default ./gpu-check-out): gpu_check.log (all the output),
# ae_step_cuda.json, compare/comparison.md, compare/comparison.csv, compare/histories.json,
# compare/sweep.csv (6 files: the device tool brings back at most 8, two folders deep).
#
# Usage (from the repository root):
#   bash benchmarks/gpu_check.sh [MNIST_DIR]
#
#   MNIST_DIR  a folder with an MNIST IDX image file (default: $LOCOGRAD_GPU_DATA, else
#              .gpu-data/mnist, else ../shared/data/mnist). The device machines reach no
#              network and get only the checkout, so copy the data in first and carry it:
#                mkdir -p .gpu-data && cp -r ../shared/data/mnist .gpu-data/ &&
#                echo /.gpu-data/ >> .git/info/exclude
#              then run(command="bash benchmarks/gpu_check.sh", carry=[".gpu-data"],
#              timeout_s=540). The autoencoder step needs no data.
#   Environment: PYTHON (default python3: on the lent machines the one with PyTorch and CuPy),
#   GPU_CHECK_EPOCHS (compare's epochs, default 8), GPU_CHECK_WORKERS (pytest -n, default 4),
#   GPU_CHECK_LIMIT (compare on the first N images only). A dry run of the script itself on a
#   machine without a GPU: GPU_CHECK_STANDIN=1 GPU_CHECK_EPOCHS=1 GPU_CHECK_LIMIT=300
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh (the CPU stand-in; its figures mean
#   nothing).
#
# locograd is used from src/ (PYTHONPATH), not installed. The exit status is that of the
# first stage that failed (0 when all passed); a stage past its time limit counts as failed.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
if [ -n "${GPU_CHECK_STANDIN:-}" ]; then
    export LOCOGRAD_CUDA_STANDIN=2  # a dry run of this script on the CPU stand-in
else
    unset LOCOGRAD_CUDA_STANDIN  # the real device, never the stand-in
fi
status=0

say() { echo "== $*" | tee -a "$LOG"; }
stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, output to the log
    local name=$1 limit=$2
    shift 2
    say "$name (limit ${limit} s): $*"
    local started=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    say "$name: exit $rc after $((SECONDS - started)) s"
    if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then status=$rc; fi
}

DATA=${1:-${LOCOGRAD_GPU_DATA:-}}
if [ -z "$DATA" ]; then
    for candidate in .gpu-data/mnist ../shared/data/mnist; do
        if [ -d "$candidate" ]; then DATA=$candidate; break; fi
    done
fi

say "machine"
{ nvidia-smi -L 2>&1 || true; } | tee -a "$LOG"
stage environment 60 "$PY" -c '
import sys, numpy, locograd as lg
try:
    import cupy
    print("cupy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion())
except Exception as e:
    print("no CuPy:", e)
print("python", sys.version.split()[0], "numpy", numpy.__version__)
print("locograd.cuda.is_available():", lg.cuda.is_available())
if not lg.cuda.is_available():
    sys.exit("no CUDA device is usable: the GPU check needs CuPy and a GPU")
print("device:", lg.cuda.get_device_name(), "count", lg.cuda.device_count())
'
if [ "$status" -ne 0 ]; then
    say "no usable GPU: stopping"
    exit "$status"
fi

# 1. The device tests on CuPy. -W default::Warning: a warning of CuPy's own (a CUDA path, a
# performance hint) is shown instead of failing every test as the suite's "error" filter would.
stage tests 210 env LOCOGRAD_TEST_REAL_CUDA=1 "$PY" -m pytest -q -p no:cacheprovider \
    -n "${GPU_CHECK_WORKERS:-4}" -W default::Warning \
    tests/test_device.py tests/test_device_training.py

# 2. The autoencoder step: locograd on the GPU against PyTorch CUDA eager, and LocoProp-M.
stage ae_step 80 "$PY" benchmarks/ae_step.py --device cuda --locoprop --rounds 5 --steps 3 \
    --json "$OUT/ae_step_cuda.json"

# 3. The optimiser comparison on the GPU: seconds to the target loss.
if [ -n "$DATA" ]; then
    stage compare 160 "$PY" -m locograd compare --device cuda --data "$DATA" \
        --methods RMSProp,Shampoo,K-FAC,LocoProp-S,LocoProp-M --no-sweep \
        --epochs "${GPU_CHECK_EPOCHS:-8}" ${GPU_CHECK_LIMIT:+--limit "$GPU_CHECK_LIMIT"} \
        --no-plots --out "$OUT/compare"
else
    say "compare: skipped, no MNIST folder (give one as the first argument)"
    [ "$status" -eq 0 ] && status=2
fi

say "summary (exit $status)"
grep -E "^\| (locograd|torch|locoprop|RMSProp|Shampoo|K-FAC|LocoProp)|passed|failed|error" \
    "$LOG" | tail -40
exit "$status"
