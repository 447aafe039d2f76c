"""``locograd.nn``: modules, layers, losses, initialisation and utilities (``torch.nn`` names)."""
from . import functional, init, utils
from .activation import *  # noqa: F401,F403
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import *  # noqa: F401,F403
from .distance import CosineSimilarity, PairwiseDistance
from .dropout import *  # noqa: F401,F403
from .embedding_bag import EmbeddingBag
from .group_norm import GroupNorm, InstanceNorm1d, InstanceNorm2d, LocalResponseNorm, RMSNorm
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .loss import *  # noqa: F401,F403
from .margin_loss import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss,
                          MarginRankingLoss, MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss,
                          TripletMarginLoss)
from .module import IncompatibleKeys, Module
from .normalization import *  # noqa: F401,F403
from .parameter import Parameter
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .upsampling import PixelShuffle, PixelUnshuffle, Upsample
