"""``locograd.locoprop``: training a network as a set of layer-local problems (LocoProp).

One forward and one backward pass set a target for every layer; each layer then takes several
local steps of its own towards its target, on a loss matched to its transfer function, all
layers in parallel. ``LocoProp`` is used like an optimiser whose ``step(inputs, targets)`` does
the whole update.

* ``trainer``: ``LocoProp``, and ``reference_schedule`` (the reference code's warm-up and
  linear decay of the learning rate).
* ``matching``: the transfer functions, their potentials and the matching losses.
* ``layers``: how a model is split into layers (and the errors for models that do not split).
* ``inner``: the inner optimisers, including TensorFlow 1's RMSProp (``RMSpropTF1``).

The paper: Amid, Anil & Warmuth, "LocoProp: Enhancing BackProp via Local Loss Optimization",
AISTATS 2022, arXiv:2106.06199. A training loop (``LocoProp`` takes the batch itself)::

    opt = LocoProp(model, nn.CrossEntropyLoss(), variant="M", inner_lr=1e-3)
    for inputs, targets in loader:
        loss = opt.step(inputs, targets)   # forward, backward, and the local solves
"""
from .inner import INNER_OPTIMIZERS, RMSpropTF1
from .layers import LocalLayer, decompose
from .matching import TRANSFERS, Transfer, get_transfer, local_gradients, local_loss, \
    local_residual
from .trainer import LocoProp, WarmupLinearDecay, reference_schedule

__all__ = ["LocoProp", "reference_schedule", "WarmupLinearDecay", "RMSpropTF1",
           "INNER_OPTIMIZERS", "TRANSFERS", "Transfer", "get_transfer", "local_residual",
           "local_gradients", "local_loss", "LocalLayer", "decompose"]
