"""``locograd.nn.functional`` (imported as ``F``): the functional forms of the layers.

Everything here is a locograd op (see ``locograd.ops``); this module gathers them under the
names PyTorch users know.
"""
from ..ops import (clamp, gather, linear, log_softmax, logsumexp, one_hot, pad, relu, sigmoid,
                   softmax, softplus, tanh)
from ..ops.activation import *  # noqa: F401,F403
from ..ops.activation import __all__ as _act
from ..ops.conv import *  # noqa: F401,F403
from ..ops.conv import __all__ as _conv
from ..ops.loss import *  # noqa: F401,F403
from ..ops.loss import __all__ as _loss

__all__ = ["clamp", "gather", "linear", "log_softmax", "logsumexp", "one_hot", "pad", "relu",
           "sigmoid", "softmax", "softplus", "tanh"] + list(_act) + list(_conv) + list(_loss)
