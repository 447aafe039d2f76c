"""Differentiable primitives, one file per family; each op's forward and backward side by side.

Every file of the package is listed here: the op families (each exports its public functions,
and the ``Function`` classes other layers use, through its ``__all__``), ``recurrent`` (the fused
time steps of ``nn``'s RNN/LSTM/GRU, not exported), and the helpers ``_common`` (operands and
dtype promotion) and ``tensor_namespace`` (NumPy's names over these ops: the namespace of a rule
that runs on tensors). A new op is its class and public function in its family's file, plus its
entry in ``tests/opspecs``.
"""
import sys as _sys

from . import _common, recurrent, tensor_namespace  # noqa: F401  (tensor_namespace registers)
from .unary import *  # noqa: F401,F403
from .comparison import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .decompositions import *  # noqa: F401,F403
from .matrix_functions import *  # noqa: F401,F403
from .products import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .cross_entropy import *  # noqa: F401,F403
from .arrangement import *  # noqa: F401,F403
from .split_join import *  # noqa: F401,F403
from .index_write import *  # noqa: F401,F403
from .search import *  # noqa: F401,F403
from .trig import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .scan import *  # noqa: F401,F403
from .statistics import *  # noqa: F401,F403

#: The op families' modules, in the order above (``ops.dropout`` is the function, so the
#: modules are looked up rather than bound here).
FAMILIES = tuple(_sys.modules[f"{__name__}.{name}"] for name in (
    "unary", "comparison", "elementwise", "reduce", "shape", "indexing", "linalg",
    "decompositions", "matrix_functions", "products", "activation", "dropout", "embedding",
    "conv", "pooling", "normalization", "loss", "cross_entropy",
    "arrangement", "split_join", "index_write", "search",
    "trig", "special", "scan", "statistics"))
__all__ = [name for family in FAMILIES for name in family.__all__]
