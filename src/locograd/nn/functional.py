"""``locograd.nn.functional`` (imported as ``F``): the functional forms of the layers.

Everything here is a locograd op (see ``locograd.ops``); this module gathers them under the
names PyTorch users know.
"""
from .. import ops
from ..ops import (clamp, gather, linear, log_softmax, logsumexp, one_hot, pad, sigmoid, softmax,
                   softplus, tanh)
from ..ops.activation import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.cross_entropy import *  # noqa: F401,F403
from ..ops.dropout import *  # noqa: F401,F403
from ..ops.embedding import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403
from ..ops.normalization import *  # noqa: F401,F403
from ..ops.pooling import *  # noqa: F401,F403

# The op families whose public functions are the functional forms of layers.
_FAMILIES = ("activation", "conv", "cross_entropy", "dropout", "embedding", "loss",
             "normalization", "pooling")
__all__ = ["clamp", "gather", "linear", "log_softmax", "logsumexp", "one_hot", "pad", "relu",
           "sigmoid", "softmax", "softplus", "tanh", "normalize"] + [
    name for family in ops.FAMILIES if family.__name__.rsplit(".", 1)[1] in _FAMILIES
    for name in family.__all__]


def relu(input, inplace: bool = False):
    """``max(x, 0)`` (``inplace`` is accepted for compatibility; computed out of place).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.relu(lg.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    return ops.relu(input)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """``x / max(||x||_p, eps)`` along ``dim`` (unit vectors; zero vectors stay zero).

    Example:
        >>> import locograd as lg
        >>> lg.nn.functional.normalize(lg.tensor([[3.0, 4.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929]]
    """
    return input / clamp(ops.norm(input, p, dim, keepdim=True), min=eps)


# the functional forms written as compositions in locograd.nn (imported last: they use ops)
from .attention import scaled_dot_product_attention  # noqa: E402
from .distance import cosine_similarity, pairwise_distance  # noqa: E402
from .embedding_bag import embedding_bag  # noqa: E402
from .group_norm import group_norm, instance_norm, local_response_norm, rms_norm  # noqa: E402
from .margin_loss import (cosine_embedding_loss, gaussian_nll_loss,  # noqa: E402
                          hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                          poisson_nll_loss, soft_margin_loss, triplet_margin_loss)
from .upsampling import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: E402

__all__ += ["scaled_dot_product_attention", "cosine_similarity", "pairwise_distance",
            "embedding_bag", "group_norm", "instance_norm", "local_response_norm", "rms_norm",
            "cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss",
            "margin_ranking_loss", "multi_margin_loss", "poisson_nll_loss", "soft_margin_loss",
            "triplet_margin_loss", "interpolate", "pixel_shuffle", "pixel_unshuffle"]
