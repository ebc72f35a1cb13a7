"""Companion code for the book *Deep Learning, Hands-On*: one module per idea.

- `book`: fast mode, seeding, threads, figure style, `glue`, `expect_error`
- `data`: MNIST as tensors (with an offline fallback), a seeded `split`, toy 2-D data
- `training`: `fit`, `evaluate`, `History`, and the steps (classification, next token, seq2seq)
- `curves`: live training curves (a `fit` callback) and `History.plot`'s figure
- `widgets`: the model playground; `explorer`: precomputed explorers that need no kernel
- `measure`: gradient norms per part, `evaluating`; `summary`: layer tables, multiply-adds
- `hardware`: bfloat16 autocast and channels-last only where this machine runs them faster
- `plots`: a 2-D decision boundary, an image grid; `check`: exercises that check themselves
- `learning`, `autograd`, `activations`, `cnn`, `resnet`, `rnn`, `text`, `attention`,
  `seq2seq`, `mnist`: one module per chapter's idea
"""
__version__ = "0.1.0"
