"""``locograd.linalg``: linear algebra with ``torch.linalg``'s names and signatures.

Every function here is an op of ``locograd.ops`` (re-exported): differentiable with PyTorch's
gradient formulas, batched over leading dimensions, second order included.

Example:
    >>> import locograd as lg
    >>> lg.linalg.det(lg.eye(3) * 2.0).item()
    8.0
"""
from .ops.decompositions import (LinAlgError, cholesky, det, eigh, eigvalsh, inv, qr, slogdet,
                                 solve, svd, svdvals)
from .ops.linalg import matmul
from .ops.matrix_functions import (lstsq, matrix_norm, matrix_power, matrix_rank, multi_dot,
                                   norm, pinv, vector_norm)
from .ops.products import linalg_cross as cross

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq",
           "matmul", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "vector_norm"]
