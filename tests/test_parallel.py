"""side_by_side runs independent trainings at once and gives exactly what they give one after
another; the first job runs on the calling thread; errors come back; the thread count is
restored."""
import threading

import pytest
import torch
from torch import nn

from companion.parallel import side_by_side
from companion.seq2seq import DIGITS, PAD, Seq2Seq, reversal_task
from companion.training import fit, seq2seq_step

RECIPE = dict(epochs=2, batch_size=32, lr=5e-3, clip_grad=1.0, step=seq2seq_step,
              loss_fn=nn.CrossEntropyLoss(ignore_index=PAD), live=False)


def job(length, attention):
    """Chapter 06's pattern: the model built and seeded now, trained by the job returned."""
    train, val = (reversal_task(n, length, seed=seed) for seed, n in enumerate((256, 64)))
    torch.manual_seed(0)
    model = Seq2Seq(len(DIGITS), 32, 16, attention=attention)

    def train_it():
        history = fit(model, train, val=val, **RECIPE)
        return history.train_loss + history.val_loss, [p.detach().clone()
                                                       for p in model.parameters()]
    return train_it


def test_side_by_side_equals_one_after_another():
    settings = [(8, "dot"), (12, "none"), (6, "concat")]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)      # alone, each job uses one thread as side_by_side gives it
    try:
        alone = [job(*s)() for s in settings]
    finally:
        torch.set_num_threads(threads)
    together = side_by_side(*(job(*s) for s in settings), workers=2)
    assert len(together) == len(settings)
    for (losses, weights), (losses2, weights2) in zip(alone, together):
        assert losses == losses2                              # bit for bit
        assert all(torch.equal(a, b) for a, b in zip(weights, weights2))
    assert torch.get_num_threads() == threads


def test_first_job_on_calling_thread_results_in_order():
    def ident(i):
        return lambda: (i, threading.get_ident())
    results = side_by_side(*(ident(i) for i in range(5)), workers=3)
    assert [i for i, _ in results] == list(range(5))
    assert results[0][1] == threading.get_ident()


def test_runs_at_once():
    # two jobs that each wait for the other: only finish if they run at the same time
    barrier = threading.Barrier(2, timeout=10)
    assert sorted(side_by_side(barrier.wait, barrier.wait, workers=2)) == [0, 1]


def test_error_raised_after_the_others_finish_and_threads_restored():
    threads = torch.get_num_threads()
    done = []

    def fails():
        raise RuntimeError("job 1 failed")

    with pytest.raises(RuntimeError, match="job 1 failed"):
        side_by_side(lambda: done.append(0), fails, lambda: done.append(2), workers=2)
    assert sorted(done) == [0, 2]
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("jobs, workers, message", [
    ((), None, "one or more functions"),
    ((1,), None, "one or more functions"),
    ((print,), 0, "workers must be a positive int"),
    ((print,), 1.5, "workers must be a positive int"),
])
def test_bad_input(jobs, workers, message):
    with pytest.raises(ValueError, match=message):
        side_by_side(*jobs, workers=workers)
