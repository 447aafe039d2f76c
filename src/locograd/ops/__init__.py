"""Differentiable primitives, one file per family; each op's forward and backward side by side."""
from . import tensor_namespace  # noqa: F401  (registers the namespace of tensors: a recorded rule)
from .elementwise import *  # noqa: F401,F403
from .elementwise import __all__ as _e
from .reduce import *  # noqa: F401,F403
from .reduce import __all__ as _r
from .shape import *  # noqa: F401,F403
from .shape import __all__ as _s
from .indexing import *  # noqa: F401,F403
from .indexing import __all__ as _i
from .linalg import *  # noqa: F401,F403
from .linalg import __all__ as _l
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _a
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _c
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _lo

__all__ = list(_e) + list(_r) + list(_s) + list(_i) + list(_l) + list(_a) + list(_c) + list(_lo)
