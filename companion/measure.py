"""Probes the chapters share: gradient norms per part, and a model in evaluation mode.

- `grad_norms(loss, parts)`: ‖∂loss/∂part‖ for each part — a layer, a block, a parameter or a
  hidden state h_t — without touching any parameter's `.grad`.
- `eval_mode(model)`: evaluation mode inside a `with` block (dropout off, batch norm's running
  statistics), gradients still on, for a probe that measures gradients; every module's mode is
  restored afterwards, even after an error.
- `evaluating(model)`: `eval_mode` and no gradients, for predictions.

Used in: the activations, CNN, ResNet and MNIST chapters; `training` (evaluate, predict),
`plots`, `summary`, and the probes of `activations`, `resnet`, `rnn` and `seq2seq`.
"""
import contextlib
import functools

import torch
from torch import nn


def _tensors_of(part, index):
    """The tensors one part stands for: a tensor itself, or a module's parameters."""
    if torch.is_tensor(part):
        return [part]
    if isinstance(part, nn.Module):
        params = [p for p in part.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"grad_norms: part {index} ({type(part).__name__}) has no "
                             "trainable parameters")
        return params
    if isinstance(part, (list, tuple)) and part and all(torch.is_tensor(t) for t in part):
        return list(part)
    raise ValueError(f"grad_norms: part {index} must be a tensor, a list of tensors or an "
                     f"nn.Module; got {type(part).__name__}")


def grad_norms(loss, parts, *, retain_graph=False):
    """The gradient norm ‖∂loss/∂part‖ of each part, as a 1-D tensor (first part first).

    A part is a tensor in the graph of `loss` (a weight, or a hidden state h_t), a list of
    tensors (their joint norm), or an nn.Module (all its trainable parameters together).
    A part that `loss` does not depend on gets 0. Leaves every `.grad` untouched. Norms are
    computed in the tensors' own precision (float64 keeps gradients far below 1e-19).
    `retain_graph=True` keeps the graph for another measurement.
    """
    if not torch.is_tensor(loss) or loss.numel() != 1:
        shape = tuple(loss.shape) if torch.is_tensor(loss) else type(loss).__name__
        raise ValueError(f"grad_norms needs a scalar loss tensor; got {shape}")
    parts = list(parts)
    if not parts:
        raise ValueError("grad_norms needs at least one part")
    groups = [_tensors_of(part, i) for i, part in enumerate(parts)]
    flat = [t for group in groups for t in group]
    grads = torch.autograd.grad(loss, flat, allow_unused=True, retain_graph=retain_graph)
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in flat))
    norms, start = [], 0
    for group in groups:   # the norm of a group is the norm of its tensors' norms
        parts = [torch.linalg.vector_norm(g.detach()).to(dtype)
                 for g in grads[start:start + len(group)] if g is not None]
        norms.append(torch.linalg.vector_norm(torch.stack(parts)) if parts
                     else torch.zeros((), dtype=dtype, device=loss.device))
        start += len(group)
    return torch.stack([n.cpu() for n in norms])


@contextlib.contextmanager
def eval_mode(model):
    """`with eval_mode(model):` evaluation mode (dropout off, batch-norm running statistics);
    every module's previous train/eval mode comes back on exit, even after an error."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:  # module by module: a frozen part stays frozen
            module.training = training


@contextlib.contextmanager
def evaluating(model):
    """`with evaluating(model):` `eval_mode` and no gradients (`torch.no_grad`)."""
    with eval_mode(model), torch.no_grad():
        yield model
