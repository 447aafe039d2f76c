"""``python -m locograd``: the ``locograd`` command (see ``locograd.cli``)."""
import sys

from locograd.cli import main

if __name__ == "__main__":
    sys.exit(main())
