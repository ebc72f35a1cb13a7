"""companion.snapshots: when a film records, what it records, and that it changes no run."""
import pytest
import torch
from torch import nn

from companion.snapshots import Snapshots
from companion.training import fit


def _task(n=40):
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=generator)
    return X, (X[:, 0] > 0).long()


def _run(callbacks=(), epochs=2, batch_size=10):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    fit(model, _task(), epochs=epochs, batch_size=batch_size, lr=0.1, optimizer="sgd",
        callbacks=list(callbacks(model) if callable(callbacks) else callbacks), live=False)
    return model


def _film(**schedule):
    films = []

    def make(model):
        films.append(Snapshots(lambda: model.weight.detach().clone(), **schedule))
        return films
    model = _run(make)
    return films[0], model


@pytest.mark.parametrize("schedule, moments, steps", [
    (dict(), [0.0, 1.0, 2.0], [0, 4, 8]),                       # 4 batches an epoch
    (dict(epochs=[2]), [0.0, 2.0], [0, 8]),
    (dict(steps=[1, 6]), [0.0, 0.25, 1.5], [0, 1, 6]),
    (dict(every=3), [0.0, 0.75, 1.0, 1.75, 2.0], [0, 3, 4, 7, 8]),
    (dict(per_epoch=2), [0.0, 0.5, 1.0, 1.5, 2.0], [0, 2, 4, 6, 8]),
    (dict(per_epoch=3), [0.0, 1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0], [0, 2, 3, 4, 6, 7, 8]),
])
def test_each_schedule_records_at_its_moments(schedule, moments, steps):
    film, model = _film(**schedule)
    assert film.moments == pytest.approx(moments)
    assert film.steps == steps
    assert len(film.values) == len(moments)
    if steps[-1] == 8:                                                # the end of the run
        assert torch.equal(film.values[-1], model.weight.detach())
    assert not torch.equal(film.values[0], film.values[-1])          # training moved it


def test_before_false_skips_the_untrained_snapshot():
    films = []
    _run(lambda model: films.append(Snapshots(lambda: 1, before=False)) or films)
    assert films[0].moments == [1.0, 2.0]


def test_recording_does_not_change_the_run():
    plain = _run()
    _, filmed = _film(every=1)
    assert torch.equal(plain.weight, filmed.weight)


def test_bad_schedules_are_clear_errors():
    with pytest.raises(ValueError, match="one schedule.*every and per_epoch"):
        Snapshots(lambda: 0, every=2, per_epoch=2)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Snapshots(lambda: 0, every=0)
    with pytest.raises(ValueError, match="epochs must be whole numbers from 1"):
        Snapshots(lambda: 0, epochs=[0, 1])
    with pytest.raises(ValueError, match="steps must be whole numbers from 1"):
        Snapshots(lambda: 0, steps=[])
    with pytest.raises(ValueError, match="needs a function"):
        Snapshots(nn.Linear(1, 1).weight)


def test_repr_says_how_many_and_when():
    assert repr(Snapshots(lambda: 0, per_epoch=4)) == "Snapshots(1 snapshots, 4 an epoch)"
