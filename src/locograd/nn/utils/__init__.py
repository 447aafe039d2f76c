"""``locograd.nn.utils``: gradient clipping and regularisation helpers."""
from .clip_grad import *  # noqa: F401,F403
from .clip_grad import __all__ as _clip
from .regularization import *  # noqa: F401,F403
from .regularization import __all__ as _reg

__all__ = list(_clip) + list(_reg)
