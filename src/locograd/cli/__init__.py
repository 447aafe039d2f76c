"""The ``locograd`` command (also ``python -m locograd``).

Commands::

    locograd demo                  train a CNN on the bundled digits: curves, checkpoint, graph
    locograd train --model M ...   train mlp | cnn | autoencoder | char-rnn on digits, MNIST or text
    locograd sample --checkpoint D text from a trained char-rnn
    locograd experiment NAME       graph | paralysis | rnn-gradients (locograd.experiments)
    locograd compare ...           the optimiser comparison (locograd.experiments.compare)

Every command has ``--help``. A bad argument or unusable input gives one line on stderr naming
the option or file and exit code 2, never a traceback (an unexpected error too: one line, exit
code 2); a diverged run exit code 1. ``locograd --debug COMMAND ...`` (or
``LOCOGRAD_TRACEBACK=1``) shows full tracebacks instead. ``--out`` never replaces a run
silently: a directory that holds a checkpoint needs ``--resume`` or ``--overwrite``.

Example:
    >>> from locograd.cli import main
    >>> main(["train", "--model", "char-rnn", "--data", "digits"])  # doctest: +SKIP
    locograd train: error: --model char-rnn needs --data text:FILE (got 'digits')
    2
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import sys

from .. import __version__
from ..io import CheckpointError
from ..train import NonFiniteLossError
from ..train.loop import _process_group as _multi_rank  # the group when several ranks run

__all__ = ["main", "OPTIMIZERS", "EXTERNAL_COMMANDS", "CommandError"]

PROG = "locograd"

#: commands implemented by other modules, each ``add_arguments(parser)`` and ``run(args) -> int``:
#: "command words" -> (module, one-line description)
EXTERNAL_COMMANDS = {
    "experiment graph": ("locograd.experiments.graph",
                         "draw the textbook computational graphs (forward values, gradients)"),
    "experiment paralysis": ("locograd.experiments.paralysis",
                             "vanishing gradients in a deep sigmoid net, and the cures"),
    "experiment rnn-gradients": ("locograd.experiments.rnn_gradients",
                                 "gradient norms through time: tanh RNN against LSTM"),
    "compare": ("locograd.experiments.compare",
                "compare optimisers (incl. LocoProp) on the deep MNIST autoencoder"),
}


class CommandError(Exception):
    """A user error found by the command itself: printed as one line, exit code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------------ optimisers

def _params(build):
    """A registry entry for an optimiser of ``model.parameters()``."""
    return lambda model, loss_fn, lr: build(model.parameters(), lr)


def _kfac(model, loss_fn, lr):
    from ..optim import KFAC
    return KFAC(model, lr=lr, likelihood=loss_fn)


def _locoprop(variant):
    def build(model, loss_fn, lr):
        from ..locoprop import LocoProp
        if _multi_rank() is not None:  # under mpirun: the layers are solved on different ranks
            from ..distributed import DistributedLocoProp as LocoProp
        return LocoProp(model, loss_fn, variant=variant,
                        **({} if lr is None else {"inner_lr": lr}))
    return build


def _optim(name, **options):
    def build(params, lr):
        from .. import optim
        return getattr(optim, name)(params, lr=lr, **options)
    return build


#: name -> (builder(model, loss_fn, lr), default lr (None: the optimiser's own))
OPTIMIZERS = {
    "sgd": (_params(_optim("SGD")), 0.1),
    "momentum": (_params(_optim("SGD", momentum=0.9)), 0.05),
    "nesterov": (_params(_optim("SGD", momentum=0.9, nesterov=True)), 0.05),
    "adagrad": (_params(_optim("Adagrad")), 0.05),
    "rmsprop": (_params(_optim("RMSprop")), 1e-3),
    "adam": (_params(_optim("Adam")), 1e-3),
    "adamw": (_params(_optim("AdamW")), 1e-3),
    "adadelta": (_params(_optim("Adadelta")), 1.0),
    "adamax": (_params(_optim("Adamax")), 2e-3),
    "nadam": (_params(_optim("NAdam")), 2e-3),
    "radam": (_params(_optim("RAdam")), 1e-3),
    "shampoo": (_params(_optim("Shampoo")), 1e-3),
    "kfac": (_kfac, 1.0),  # the adaptive form: the scale of its chosen update
    "locoprop-s": (_locoprop("S"), None),
    "locoprop-m": (_locoprop("M"), None),
}


# ------------------------------------------------------------------------------ argument types

def _argument_type(convert, accept, expected: str):
    """An argparse type: ``convert(text)`` when ``accept`` holds, else a clear message."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "a non-negative integer")
_positive_float = _argument_type(float, lambda v: 0.0 < v < math.inf, "a positive number")
_fraction = _argument_type(float, lambda v: 0.0 <= v < 1.0, "a fraction in [0, 1)")


def _data_spec(text: str) -> str:
    kind, _, rest = text.partition(":")
    if text in ("digits", "mnist") or (kind in ("mnist", "text") and rest):
        return text
    raise argparse.ArgumentTypeError(f"expected digits, mnist, mnist:DIR or text:FILE, got "
                                     f"{text!r}")


# ------------------------------------------------------------------------------ the parser

def _add_training_options(parser, epochs: int, out: str) -> None:
    parser.add_argument("--epochs", type=_positive_int, default=epochs,
                        help=f"epochs to train (default {epochs})")
    parser.add_argument("--seed", type=_non_negative_int, default=0,
                        help="seed of the weights, the data split and the shuffles (default 0)")
    parser.add_argument("--out", default=out,
                        help=f"directory for the checkpoint, history.csv and curves.png "
                             f"(default {out})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in --out (without it, a --out that holds "
                             "a checkpoint is refused unless --resume continues it)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar and no per-epoch lines")


def build_parser() -> ArgumentParser:
    """The parser of the built-in commands (external ones are listed, parsed by their module)."""
    parser = ArgumentParser(prog=PROG, description="locograd: backpropagation made real and "
                            "fast. Train, sample, and look at gradients.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (before the command: "
                             "locograd --debug train ...)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="train a small CNN on the bundled 8x8 digits",
                               description="Train a small CNN on the 1,797 bundled 8x8 digits; "
                               "print the test accuracy; write the curves, a checkpoint and a "
                               "picture of the model's graph to --out.")
    _add_training_options(demo, epochs=8, out=os.path.join("runs", "demo"))

    train = commands.add_parser("train", help="train a model on digits, MNIST or a text file",
                                description="Train a model; write a checkpoint per epoch, "
                                "history.csv and curves.png to --out.")
    from ..models import MODELS
    train.add_argument("--model", choices=list(MODELS), default="mlp",
                       help="the model (default mlp)")
    train.add_argument("--data", type=_data_spec, default="digits",
                       help="digits (bundled), mnist (downloaded once to $LOCOGRAD_DATA or "
                            "~/.cache/locograd), mnist:DIR (IDX files) or text:FILE (char-rnn) "
                            "(default digits)")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam",
                       help="the optimiser (default adam)")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: per optimiser)")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="samples per batch (default 64; 16 sequences for char-rnn)")
    train.add_argument("--val-split", type=_fraction, default=0.1,
                       help="share of the training data held out for validation (default 0.1)")
    train.add_argument("--limit", type=_positive_int, default=None,
                       help="use at most this many training samples (sequences for text)")
    train.add_argument("--hidden-size", type=_positive_int, default=None,
                       help="hidden width of mlp, autoencoder and char-rnn (default 128, 64, "
                            "128)")
    train.add_argument("--seq-len", type=_positive_int, default=64,
                       help="char-rnn: characters per training sequence (default 64)")
    train.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm",
                       help="char-rnn: the recurrent cell (default lstm)")
    train.add_argument("--grad-clip", type=_positive_float, default=None,
                       help="clip the gradient norm (default: 5 for char-rnn, none otherwise)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the checkpoint in --out (same options as before)")
    _add_training_options(train, epochs=5, out=os.path.join("runs", "train"))

    sample = commands.add_parser("sample", help="generate text with a trained char-rnn",
                                 description="Generate text with a char-rnn trained by "
                                 "'locograd train --model char-rnn'.")
    sample.add_argument("--checkpoint", required=True,
                        help="the --out directory of the training run (or its checkpoint file)")
    sample.add_argument("--length", type=_positive_int, default=200,
                        help="characters to generate (default 200)")
    sample.add_argument("--prime", default=None,
                        help="text to start from (default: a newline, or the first character "
                             "of the vocabulary)")
    sample.add_argument("--temperature", type=_positive_float, default=0.8,
                        help="below 1: safer text, above 1: wilder (default 0.8)")
    sample.add_argument("--seed", type=_non_negative_int, default=0,
                        help="seed of the draws (default 0)")

    experiment = commands.add_parser("experiment", help="run a classic gradient experiment",
                                     description="Classic experiments on gradient flow.")
    names = experiment.add_subparsers(dest="experiment", metavar="NAME", required=True)
    for words, (_, description) in EXTERNAL_COMMANDS.items():
        first, _, rest = words.partition(" ")
        target = names if rest else commands
        target.add_parser(rest or first, help=description, add_help=False)
    return parser


# ------------------------------------------------------------------------------ dispatch

def _external_command(argv: list[str]):
    """``(words, module name, remaining arguments)`` when ``argv`` names an external command."""
    for words, (module, _) in EXTERNAL_COMMANDS.items():
        n = len(words.split())
        if argv[:n] == words.split():
            return words, module, argv[n:]
    return None


def _run_external(words: str, module_name: str, argv: list[str]) -> int:
    prog = f"{PROG} {words}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            print(f"{prog}: error: not available in this installation (module {module_name} "
                  f"is missing)", file=sys.stderr)
            return 1
        raise
    parser = ArgumentParser(prog=prog, description=EXTERNAL_COMMANDS[words][1])
    module.add_arguments(parser)
    _check_external_options(parser)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except (KeyError, TypeError, IndexError) as error:
        report = getattr(args, "report", None)
        if report is None:
            raise
        raise CommandError(f"--report {report}: not a histories.json written by '{prog}' "
                           f"({type(error).__name__}: {error})") from error


def _int_list(text: str) -> str:
    """``784,64,16``: positive integers separated by commas (returned as given)."""
    parts = text.split(",")
    if not all(part.strip().isdigit() and int(part) >= 1 for part in parts):
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, "
                                         f"got {text!r}")
    return text


def _json_file(text: str) -> str:
    """A readable file holding a JSON object (returned as the path)."""
    import json
    try:
        with open(text, encoding="utf-8") as handle:
            record = json.load(handle)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text}: {error.strerror}") from None
    except (ValueError, RecursionError) as error:
        raise argparse.ArgumentTypeError(f"{text} is not a JSON file ({error})") from None
    if not isinstance(record, dict):
        raise argparse.ArgumentTypeError(f"{text} holds a JSON {type(record).__name__}, not "
                                         f"an object")
    return text


_finite_float = _argument_type(float, math.isfinite, "a finite number")

#: stricter types for external commands' options, by destination: counts are positive, numbers
#: finite, lists and files checked while parsing, so a bad value is one line naming the option
_EXTERNAL_TYPES = {"batch_size": _positive_int, "steps_per_epoch": _positive_int,
                   "epochs": _positive_int, "sweep_epochs": _positive_int, "limit": _positive_int,
                   "locoprop_workers": _positive_int, "warmup_epochs": _non_negative_int,
                   "seed": _non_negative_int, "sizes": _int_list, "report": _json_file}


def _check_external_options(parser) -> None:
    for action in parser._actions:
        if action.type is int and action.dest in _EXTERNAL_TYPES:
            action.type = _EXTERNAL_TYPES[action.dest]
        elif action.type is float:
            action.type = _finite_float
        elif action.type is None and action.dest in ("sizes", "report") and action.nargs is None:
            action.type = _EXTERNAL_TYPES[action.dest]


def _handlers():
    from . import commands  # imported only when a built-in command runs
    return {"demo": commands.demo, "train": commands.train, "sample": commands.sample}


def main(argv=None) -> int:
    """Run the ``locograd`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 for a bad argument or unusable input, 1 when a run
        diverged or a command is not installed. ``--help`` returns 0.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        locograd 0.1.0
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(argv[:1] == ["--debug"])
    try:
        external = _external_command(argv[debug:])
        if external is not None:
            return _guarded(f"{PROG} {external[0]}", debug, _run_external, *external)
        args = build_parser().parse_args(argv)
        return _guarded(f"{PROG} {args.command}", args.debug, _handlers()[args.command], args)
    except SystemExit as exit_:  # --help, --version and argument errors end here
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)


def _guarded(prog: str, debug: bool, function, *args) -> int:
    """Run a command; user errors become one line on stderr instead of a traceback. Under
    ``mpirun``, a failing rank ends the whole job (the others may be waiting for it)."""
    code = _run_command(prog, debug, function, *args)
    group = _multi_rank()
    if code and group is not None:
        group.abort(code)
    return code


def _run_command(prog: str, debug: bool, function, *args) -> int:
    if debug or os.environ.get("LOCOGRAD_TRACEBACK"):
        return int(function(*args) or 0)
    try:
        return int(function(*args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except NonFiniteLossError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except (CommandError, ValueError, OSError, CheckpointError, ImportError) as error:
        if isinstance(error, OSError) and error.strerror and error.filename:
            message = f"{error.filename}: {error.strerror}"  # not "[Errno 2] ..."
        else:
            message = " ".join(str(error).split()) or type(error).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{prog}: error: out of memory (lower --hidden-size, --batch-size or --limit)",
              file=sys.stderr)
        return 2
    except Exception as error:  # a failure no check foresaw: still one line, and how to see more
        message = " ".join(str(error).split())
        print(f"{prog}: error: {type(error).__name__}{': ' + message if message else ''} (run "
              f"'{PROG} --debug {prog.partition(' ')[2]} ...' for the traceback)",
              file=sys.stderr)
        return 2
