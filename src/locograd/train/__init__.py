"""``locograd.train``: the training loop (``fit``), its history, callbacks and checkpoints.

``fit`` runs the epochs (progress bar, per-epoch validation and metrics, learning-rate
schedules, early stopping), writes an atomic checkpoint after every epoch from which a run
resumes exactly, the history as CSV and the curves as PNG.

Example:
    >>> import locograd as lg
    >>> from locograd import nn, optim
    >>> from locograd.data import DataLoader, Digits, Standardize
    >>> from locograd.train import fit, accuracy
    >>> _ = lg.manual_seed(0)
    >>> train, test = Digits("train"), Digits("test")
    >>> train.transform = test.transform = Standardize().fit(train)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), 1e-2),
    ...               DataLoader(train, batch_size=64, shuffle=True),
    ...               DataLoader(test, batch_size=512), epochs=3,
    ...               metrics={"accuracy": accuracy}, progress=False)
    >>> history.last["val_accuracy"] > 0.9
    True
"""
from .callbacks import Callback, EarlyStopping, FitState
from .checkpoint import CHECKPOINT_NAME, load_checkpoint
from .history import History, plot_history, write_csv
from .loop import NonFiniteLossError, accuracy, evaluate, fit

__all__ = ["fit", "evaluate", "accuracy", "History", "Callback", "EarlyStopping", "FitState",
           "NonFiniteLossError", "load_checkpoint", "CHECKPOINT_NAME", "write_csv",
           "plot_history"]
