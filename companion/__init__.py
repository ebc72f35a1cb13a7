"""Companion code for the book *Deep Learning, Hands-On*: one module per idea.

- `book`: fast mode, seeding, threads, the garbage collector, the column width, `glue`,
  `expect_error`
- `data`: MNIST as tensors (with an offline fallback), a seeded `split`, toy 2-D data
- `training`: `train_epoch`, `fit`, `evaluate`, `predict`, `History`, `Loop`, and the steps
- `curves`: live training curves (a `fit` callback) and `History.plot`'s figure
- `widgets`: the model playground; `explorer`: precomputed explorers that need no kernel
- `measure`: gradient norms per part, `eval_mode`, `evaluating`; `summary`: layer tables
- `plots`: runs side by side, per-layer values, image grids, Markdown tables, PNG bytes
- `diagrams`: drawings of networks, blocks, the LSTM cell and attention
- `hardware`: bfloat16 autocast and channels-last only where this machine runs them faster
- `parallel`: `side_by_side`, independent trainings at once, one CPU core each
- `check`: exercises that check themselves
- `learning`, `autograd`, `activations`, `cnn`, `resnet`, `rnn`, `text`, `attention`,
  `seq2seq`, `transformer`, `mnist`: one module per chapter's idea (and its probe);
  `muon`: the Muon optimizer of both speedrun recipes
- `show`: what each chapter shows of its idea (explorers, films, result figures)

The seams (a `step` says what a batch means; callbacks watch a run) and the rule for what
belongs in a chapter and what here: companion/README.md.
"""
__version__ = "0.1.0"
