"""``locograd.optim``: optimisers and learning-rate schedules with ``torch.optim``'s names.

Every optimiser has PyTorch's arguments, defaults and update rule, so a training script and its
hyper-parameters carry over. Inside, each is a short chain of update rules over NumPy arrays
(``optimizer.py`` explains the design), applied in place.

Example:
    >>> import locograd as lg
    >>> from locograd import optim
    >>> model = lg.nn.Linear(3, 1)
    >>> opt = optim.AdamW(model.parameters(), lr=1e-2)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    >>> loss = model(lg.ones(4, 3)).pow(2).mean()
    >>> opt.zero_grad(); loss.backward(); _ = opt.step(); sched.step()
"""
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer, required
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "required", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW",
           "Adamax", "NAdam", "RAdam", "LBFGS", "Shampoo", "KFAC", "lr_scheduler"]

# The second-order optimisers and the schedules load on first use (``optim.KFAC``,
# ``optim.lr_scheduler.StepLR``): importing locograd stays fast.
_LAZY = {"Shampoo": ".shampoo", "KFAC": ".kfac", "lr_scheduler": ".lr_scheduler"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module = importlib.import_module(_LAZY[name], __name__)
        value = module if name == "lr_scheduler" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'locograd.optim' has no attribute '{name}'")
