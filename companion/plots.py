"""Small plotting helpers shared by chapters: a 2-D decision boundary, an image grid.

Used in: book/intro.ipynb (decision boundary), the MNIST chapters (image grid).
"""
import matplotlib.pyplot as plt
import torch

from .measure import evaluating


def plot_decision_boundary(model, X, y, ax=None, resolution=200, title=None):
    """Colour the plane by the class `model` predicts, with the points (X, y) on top.

    X: float (N, 2), y: int64 (N,). Returns the matplotlib Axes.
    """
    if X.dim() != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points X of shape (N, 2); "
                         f"got {tuple(X.shape)}")
    ax = ax or plt.gca()
    pad = 0.1 * (X.max() - X.min()).item()
    lo, hi = X.min(dim=0).values - pad, X.max(dim=0).values + pad
    xs = torch.linspace(lo[0].item(), hi[0].item(), resolution)
    ys = torch.linspace(lo[1].item(), hi[1].item(), resolution)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")           # (res, res) each
    grid = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)  # (res*res, 2)
    device = next(model.parameters()).device
    with evaluating(model):
        predicted = model(grid.to(device)).argmax(dim=1).cpu().reshape(resolution, resolution)
    ax.contourf(grid_x, grid_y, predicted, alpha=0.25, cmap="coolwarm",
                levels=torch.arange(-0.5, int(y.max()) + 1.5).tolist())
    ax.scatter(X[:, 0], X[:, 1], c=y, s=6, cmap="coolwarm", edgecolors="none")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_images(images, labels=None, ncols=10, size=1.0, cmap="gray_r", title=None):
    """Show a grid of (N, 1, H, W) or (N, H, W) images with optional labels; returns the Figure."""
    images = images.detach().cpu()
    if images.dim() == 4:
        images = images[:, 0]                                        # (N, H, W)
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.1),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
