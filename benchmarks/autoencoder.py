"""The optimiser comparison on the MNIST deep autoencoder, on one pinned core.

Nine optimisers (SGD, SGD+Nesterov, AdaGrad, RMSProp, Adam, Shampoo, K-FAC, LocoProp-S,
LocoProp-M) train the 784-1000-500-250-30-250-500-1000-784 autoencoder from the same weights on
the same minibatches, each at the best rate of a small sweep; the table (final training loss,
seconds per epoch, time to reach a loss) goes to Markdown and CSV, the curves to two PNGs. The
method, the grids and the outputs are described in ``locograd.experiments.compare``, which also
serves ``locograd compare``; this script only pins the process to one core and one BLAS thread
first, so that seconds are comparable between methods (LocoProp's layer threads then share that
core: its parallelism is not measured here).

    python benchmarks/autoencoder.py [--epochs 20] [--limit 10000] [--sweep-epochs 5]
                                     [--methods Adam,LocoProp-M] [--out autoencoder-results]

The default data are the 10,000 MNIST test images in ../shared/data/mnist (``--data`` takes any
IDX image file or directory); ``locograd compare`` without ``--data`` downloads the full
training split instead.
"""
from __future__ import annotations

import argparse
import sys

from _common import pin_one_core

pin_one_core()

from locograd.experiments import compare  # noqa: E402  (after pinning: NumPy reads the env)
from locograd.experiments.autoencoder import default_data_dir  # noqa: E402

_SHARED_MNIST = default_data_dir()  # the test split here (``locograd compare`` downloads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    compare.add_arguments(parser)
    parser.set_defaults(out="autoencoder-results", data=_SHARED_MNIST)
    return compare.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
