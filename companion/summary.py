"""How big is a model, what shape does each layer output, and what does it cost?

- `trace(model, input_shape)`: run one zero batch through the model and record, per layer, its
  output shape, parameters and multiply-adds (one forward-hook tracer for the whole book).
- `summary(model, input_shape)`: the same as a printable table; `count_params(model)`;
  `multiply_adds(model, input_shape)`.

Multiply-adds count the convolutions and linear layers (the matrix products, where nearly all
the arithmetic is); batch norm, activations and pooling are cheap element-wise work and count 0.
Used in: the playgrounds, `diagrams` (draw_cnn, draw_resnet), and every chapter that prints a
model.
"""
import math
from collections import namedtuple

import torch
from torch import nn

from .measure import evaluating

Row = namedtuple("Row", "name kind shape params macs module")


def count_params(model, trainable_only=True):
    """Number of (trainable) parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _own_macs(module, output):
    """Multiply-adds of one convolution or linear layer for the batch it just computed."""
    if isinstance(module, nn.modules.conv._ConvNd) and torch.is_tensor(output):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear) and torch.is_tensor(output):
        return output.numel() * module.in_features
    return 0


def _shape(output):
    if torch.is_tensor(output):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return tuple(_shape(o) for o in output if torch.is_tensor(o) or isinstance(o, (tuple, list)))
    return ()


def trace(model, input_shape=None, *, example=None, modules=None):
    """Run one batch through `model` (zeros of `input_shape`, or `example`: a tensor or a tuple
    of tensors passed as `model(*example)`) in eval mode and return a Row per recorded module: name, kind, output shape, own parameters
    (all its parameters for a container) and multiply-adds (of everything inside it).

    modules: None records every leaf layer; or a list of (name, module) pairs to record instead
    (ResNet stages, say). Raises ValueError naming the last layer that ran when the input does
    not fit the model.
    """
    if (input_shape is None) == (example is None):
        raise ValueError("trace needs exactly one of input_shape or example")
    chosen = modules is not None
    if modules is None:
        modules = [(name, m) for name, m in model.named_modules()
                   if name and not list(m.children())]
    modules = list(modules)
    rows, counter, starts, hooks = [], [0], {}, []

    def count(module, inputs, output):                     # every leaf adds its own cost
        counter[0] += _own_macs(module, output)

    def begin(module, inputs):
        starts.setdefault(id(module), []).append(counter[0])

    def record(name):
        def hook(module, inputs, output):
            start = starts[id(module)].pop()
            own = module.parameters(recurse=bool(list(module.children())))
            rows.append(Row(name, type(module).__name__, _shape(output),
                            sum(p.numel() for p in own), counter[0] - start, module))
        return hook

    for _, module in model.named_modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(count))
    for name, module in modules:
        hooks.append(module.register_forward_pre_hook(begin))
        hooks.append(module.register_forward_hook(record(name)))
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        if example is None:
            inputs = (torch.zeros(*input_shape, device=device),)
        else:
            inputs = tuple(t.to(device) for t in (example if isinstance(example, tuple)
                                                   else (example,)))
        with evaluating(model):
            model(*inputs)
    except RuntimeError as error:
        after = f" after layer '{rows[-1].name}' with output {rows[-1].shape}" if rows else ""
        shape = tuple(input_shape) if example is None else _shape(example)
        raise ValueError(f"the input {shape} does not fit this model{after}: "
                         f"{str(error).splitlines()[0]}") from None
    finally:
        for hook in hooks:
            hook.remove()
    missing = [name for name, m in modules if not any(r.module is m for r in rows)]
    if chosen and missing:
        raise ValueError(f"trace: these modules never ran in the forward pass: {missing}")
    return rows


def multiply_adds(model, input_shape=None, *, example=None):
    """Multiply-adds of one forward pass (convolutions and linear layers)."""
    return sum(row.macs for row in trace(model, input_shape, example=example))


def _count(n):
    """1234567 -> '1.23M'; small numbers as they are."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return str(n)


def _block_of(name):
    """'blocks.3.linear' -> ('blocks', 3, 'linear'): the deepest numbered part of a layer's
    name that still has a layer inside it (the block's index); None if there is none."""
    parts = name.split(".")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i].isdigit():
            return ".".join(parts[:i]), int(parts[i]), ".".join(parts[i + 1:])
    return None


def collapse(rows):
    """Fold runs of identical numbered blocks into one row each: 'blocks.0-24 (×25)'.

    Blocks are identical when their layers have the same names, kinds, shapes and parameter
    counts. The folded row shows one block's layers joined by '→' and the run's totals.
    """
    groups = []                                   # [parent, first index, last index, rows]
    for row in rows:
        where = _block_of(row.name)
        if where and groups and groups[-1][0] == where[0] and groups[-1][2] == where[1]:
            groups[-1][3].append(row)             # same block, another layer
        else:
            groups.append([where[0], where[1], where[1], [row]] if where else [None, 0, 0, [row]])
    runs = []                                     # merge consecutive blocks with one signature
    for parent, first, last, block in groups:
        sign = [(_block_of(r.name)[2], r.kind, r.shape, r.params) for r in block] if parent else None
        if parent and runs and runs[-1][0] == parent and runs[-1][4] == sign and runs[-1][2] + 1 == first:
            runs[-1][2] = last
            runs[-1][3].extend(block)
        else:
            runs.append([parent, first, last, list(block), sign])
    folded = []
    for parent, first, last, block, sign in runs:
        if parent is None or first == last:
            folded.extend(block)
            continue
        count = last - first + 1
        kinds = "→".join(r.kind for r in block[:len(sign)])
        folded.append(Row(f"{parent}.{first}–{last} (×{count})", kinds, block[-1].shape,
                          sum(r.params for r in block), sum(r.macs for r in block), None))
    return folded


class Summary:
    """A table of layers: name, type, output shape, own parameters and multiply-adds.

    Printed, runs of identical numbered blocks fold into one row (`collapse`); `.rows` keeps
    every layer.
    """

    def __init__(self, rows, total, input_shape):
        self.rows, self.total, self.input_shape = rows, total, tuple(input_shape)

    @property
    def total_macs(self):
        return sum(r.macs for r in self.rows)

    def __repr__(self):
        header = ("layer", "type", "output shape", "params", "mult-adds")
        lines = [header] + [(r.name, r.kind, str(r.shape), f"{r.params:,}", _count(r.macs))
                            for r in collapse(self.rows)]
        widths = [max(len(line[i]) for line in lines) for i in range(5)]
        fmt = lambda line: "  ".join(  # noqa: E731
            cell.rjust(w) if i >= 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        rule = "-" * len(fmt(header))
        body = [fmt(line) for line in lines[1:]]
        return "\n".join([f"input {self.input_shape}", fmt(header), rule, *body, rule,
                          f"total parameters: {self.total:,}   "
                          f"multiply-adds per forward pass: {self.total_macs:,}"])


def summary(model, input_shape=None, *, example=None):
    """Trace `model` on one zero batch of `input_shape` (or on `example`) and return a Summary
    of its leaf layers. Raises ValueError naming the layer when the input does not fit."""
    rows = trace(model, input_shape, example=example)
    shape = input_shape if example is None else _shape(example)
    return Summary(rows, count_params(model), shape)
