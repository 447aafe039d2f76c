"""Helpers for the nn parity tests: run a locograd and a PyTorch computation on the same float64
inputs and weights, compare the outputs, then the gradients of a random projection of them."""
import numpy as np

import locograd as lg


def load_torch_weights(ours, theirs):
    """Copy a torch module's state_dict into ours (strict: the names must match)."""
    state = {k: lg.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def _outputs(result):
    return [r for r in (result if isinstance(result, tuple) else (result,)) if r is not None]


def assert_matches_torch(ours_fn, theirs_fn, arrays, requires_grad=None, modules=(None, None),
                         rtol=1e-9, atol=1e-11, seed=0):
    """``ours_fn(*lg tensors)`` against ``theirs_fn(*torch tensors)`` on ``arrays``, in value,
    and in the gradients of ``sum(output * R)`` (R random) with respect to the float inputs
    flagged in ``requires_grad`` (default: all float inputs) and the modules' parameters."""
    import torch
    if requires_grad is None:
        requires_grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    ours_in = [lg.tensor(np.array(a), requires_grad=g) for a, g in zip(arrays, requires_grad)]
    theirs_in = [torch.tensor(np.array(a), requires_grad=g) for a, g in zip(arrays, requires_grad)]
    ours_out, theirs_out = _outputs(ours_fn(*ours_in)), _outputs(theirs_fn(*theirs_in))
    assert len(ours_out) == len(theirs_out)
    rng = np.random.default_rng(seed)
    ours_loss, theirs_loss = 0.0, 0.0
    for mine, theirs in zip(ours_out, theirs_out):
        reference = theirs.detach().numpy()
        assert mine.shape == reference.shape, (mine.shape, reference.shape)
        assert mine.dtype == reference.dtype, (mine.dtype, reference.dtype)
        np.testing.assert_allclose(mine.numpy(), reference, rtol=rtol, atol=atol)
        projection = rng.standard_normal(reference.shape)
        if mine.requires_grad:
            ours_loss = ours_loss + (mine * lg.tensor(projection)).sum()
            theirs_loss = theirs_loss + (theirs * torch.tensor(projection)).sum()
    if isinstance(ours_loss, float):
        return
    ours_loss.backward()
    theirs_loss.backward()
    for i, (mine, reference) in enumerate(zip(ours_in, theirs_in)):
        if requires_grad[i]:
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=f"gradient of input {i}")
    ours_module, theirs_module = modules
    if ours_module is not None:
        reference = dict(theirs_module.named_parameters())
        for name, p in ours_module.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), reference[name].grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=f"gradient of {name}")
