"""How big is a model, and what shape does each layer output? (`count_params`, `summary`)

Used in: the playgrounds and every chapter that prints a model.
"""
from collections import namedtuple

import torch
from torch import nn

Row = namedtuple("Row", "name kind shape params")


def count_params(model, trainable_only=True):
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class Summary:
    """A table of layers: name, type, output shape and own parameter count."""

    def __init__(self, rows, total, input_shape):
        self.rows, self.total, self.input_shape = rows, total, tuple(input_shape)

    def __repr__(self):
        header = ("layer", "type", "output shape", "params")
        lines = [header] + [(r.name, r.kind, str(tuple(r.shape)), f"{r.params:,}")
                            for r in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        fmt = lambda line: "  ".join(  # noqa: E731
            cell.rjust(w) if i == 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        rule = "-" * len(fmt(header))
        body = [fmt(line) for line in lines[1:]]
        return "\n".join([f"input {self.input_shape}", fmt(header), rule, *body, rule,
                          f"total parameters: {self.total:,}"])


def summary(model, input_shape):
    """Run one zero batch of `input_shape` through `model` and record every leaf layer's output.

    Raises ValueError naming the layer when the input does not fit the model (for example a
    feature map that shrank to nothing).
    """
    rows, hooks = [], []

    def record(name):
        def hook(module, inputs, output):
            shape = output.shape if torch.is_tensor(output) else tuple(
                o.shape for o in output if torch.is_tensor(o))
            own = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append(Row(name, type(module).__name__, tuple(shape), own))
        return hook

    for name, module in model.named_modules():
        if name and not list(module.children()):  # leaf layers only
            hooks.append(module.register_forward_hook(record(name)))
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else "cpu"
        with torch.no_grad():
            model(torch.zeros(*input_shape, device=device))
    except RuntimeError as error:
        after = f" after layer '{rows[-1].name}' with output {rows[-1].shape}" if rows else ""
        raise ValueError(f"the input {tuple(input_shape)} does not fit this model{after}: "
                         f"{str(error).splitlines()[0]}") from None
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return Summary(rows, count_params(model), input_shape)
