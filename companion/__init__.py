"""Companion code for the book *Deep Learning, Hands-On*: one module per idea.

- `book`: fast mode, seeding, threads, `glue`
- `data`: MNIST as tensors (with an offline fallback), toy 2-D data
- `training`: `fit`, `evaluate`, `History`
- `widgets`: live training curves and the model playground
- `summary`: parameter counts and layer output shapes
- `plots`: a 2-D decision boundary, an image grid
- `activations`, `cnn`, `resnet`, `mnist`: one module per chapter's idea
"""
__version__ = "0.1.0"
