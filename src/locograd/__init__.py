"""locograd: backpropagation made real and fast.

A NumPy deep-learning framework with PyTorch's names: ``Tensor`` with reverse-mode autodiff,
``nn``, ``optim``, ``data``, second-order optimisers and LocoProp.

Example:
    >>> import locograd as lg
    >>> x = lg.tensor([1.0, 2.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0]
"""
from . import autograd
from .autograd import (Function, backward, enable_grad, grad, inference_mode, is_grad_enabled,
                       no_grad, set_grad_enabled)
from .backend import (Generator, as_dtype, bool_, default_generator, float16, float32, float64,
                      get_default_dtype, initial_seed, int8, int16, int32, int64, manual_seed,
                      promote_types, seed, set_default_dtype, uint8)
from .backend.devices import device, get_default_device, set_default_device
from .tensor import Tensor
from .factory import *  # noqa: F401,F403
from .ops import *  # noqa: F401,F403
from . import linalg  # noqa: E402  (torch.linalg's names over the ops)
from . import nn, optim  # noqa: E402  (built on the core above)
from .io import load, save  # noqa: E402
from . import accelerator, cuda  # noqa: E402  (CuPy itself is imported on first need)

__version__ = "0.1.0"

float = float32  # noqa: A001  (torch.float is float32)
double = float64
long = int64
half = float16
bool = bool_  # noqa: A001

# Heavier subpackages load on first use (``lg.data``, ``lg.viz``...): ``import locograd`` stays
# fast for scripts that never touch them.
_LAZY_SUBMODULES = ("data", "diagnostics", "distributed", "experiments", "locoprop", "models",
                    "train", "viz")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'locograd' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_LAZY_SUBMODULES))
