"""The README's main job: ``locograd demo`` (a CNN on the bundled digits), as a script.

    python examples/demo.py [--out DIR] [--epochs N] [--seed S]

Equivalent to ``locograd demo ...``; see ``locograd demo --help``.
"""
import sys

from locograd.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
