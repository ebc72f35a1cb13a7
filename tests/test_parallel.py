"""side_by_side runs independent trainings at once, one torch thread each, and gives exactly
what they give one after another on one thread; one at a time (one job or worker, CUDA, torch's
native backend) it is a plain loop on torch's thread count; the first job runs on the calling
thread; an error or an interrupt stops new jobs and comes back once the running ones end; grad
mode is carried; the thread count and the SIGINT handler are restored."""
import contextlib
import signal
import threading
import time

import pytest
import torch
from torch import nn

from companion import parallel
from companion.parallel import side_by_side
from companion.seq2seq import DIGITS, PAD, Seq2Seq, reversal_task
from companion.training import fit, seq2seq_step

RECIPE = dict(epochs=2, batch_size=32, lr=5e-3, clip_grad=1.0, step=seq2seq_step,
              loss_fn=nn.CrossEntropyLoss(ignore_index=PAD), live=False, device="cpu")


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


def test_one_torch_thread_per_job_and_default_workers(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)    # a CPU machine
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    if torch.get_num_threads() != 3:
        torch.set_num_threads(threads)
        pytest.skip("this torch's parallel backend does not change its thread count")
    try:
        barrier = threading.Barrier(3, timeout=10)          # needs three at once
        jobs = [lambda: (barrier.wait(), torch.get_num_threads())[1]] * 3
        assert side_by_side(*jobs) == [1, 1, 1]             # workers: the thread count
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)


def ident():
    return threading.get_ident(), torch.get_num_threads()


def slow_ident():
    time.sleep(0.2)                     # long enough for a helper to take the next job
    return ident()


def pretend_threads(monkeypatch, count, obeys=True):
    """torch's thread count faked at `count` (nothing real changes); `obeys=False`: torch
    refuses every change (as a native backend does once its parallel work has begun)."""
    state = {"count": count}
    monkeypatch.setattr(torch, "get_num_threads", lambda: state["count"])
    monkeypatch.setattr(torch, "set_num_threads",
                        (lambda n: state.update(count=n)) if obeys else (lambda n: None))


def test_one_at_a_time_where_cuda_trains(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    pretend_threads(monkeypatch, 2)     # two cores, were it a CPU
    here = threading.get_ident()        # a plain loop, on torch's two threads
    assert side_by_side(slow_ident, ident, ident) == [(here, 2)] * 3
    assert torch.get_num_threads() == 2


def test_one_at_a_time_where_torch_keeps_its_thread_count(monkeypatch):
    pretend_threads(monkeypatch, 2, obeys=False)
    here = threading.get_ident()
    assert side_by_side(slow_ident, ident, ident, workers=2) == [(here, 2)] * 3


def test_no_change_of_thread_count_on_the_native_backend(monkeypatch):
    # its one accepted change could not be undone: never make it, run one job at a time
    monkeypatch.setattr(torch.__config__, "parallel_info",
                        lambda: "ATen parallel backend: native thread pool")
    pretend_threads(monkeypatch, 2)     # it would accept this first change
    calls = []
    monkeypatch.setattr(parallel, "_set_threads", calls.append)
    here = threading.get_ident()
    assert side_by_side(slow_ident, ident, ident, workers=2) == [(here, 2)] * 3
    assert calls == []


@pytest.mark.parametrize("jobs, workers", [(1, 2), (3, 1)])
def test_one_job_or_one_worker_is_a_plain_loop(monkeypatch, jobs, workers):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    pretend_threads(monkeypatch, 2)     # the jobs keep torch's thread count
    here = threading.get_ident()
    assert side_by_side(*[ident] * jobs, workers=workers) == [(here, 2)] * jobs
    assert torch.get_num_threads() == 2


def test_on_this_thread_when_no_helper_thread_starts(monkeypatch):
    def cannot_start(self):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", cannot_start)
    here = threading.get_ident()
    assert side_by_side(*[threading.get_ident] * 3, workers=2) == [here] * 3


def test_grad_mode_carried():
    with torch.no_grad():
        assert side_by_side(*[torch.is_grad_enabled] * 2, workers=2) == [False, False]
    assert side_by_side(*[torch.is_grad_enabled] * 2, workers=2) == [True, True]
    with torch.inference_mode():
        assert side_by_side(*[torch.is_inference_mode_enabled] * 2, workers=2) == [True, True]


def test_first_error_in_job_order_and_no_new_job_after_it():
    threads = torch.get_num_threads()
    done, b_failed = [], threading.Event()

    def a():                            # fails second in time, first in job order
        assert b_failed.wait(10)
        raise RuntimeError("a failed")

    def b():
        try:
            raise RuntimeError("b failed")
        finally:
            b_failed.set()

    with pytest.raises(RuntimeError, match="a failed"):
        side_by_side(a, b, lambda: done.append(2), workers=2)
    assert done == []                   # no job started after an error
    assert torch.get_num_threads() == threads


def test_a_jobs_interrupt_waits_for_the_running_jobs():
    threads = torch.get_num_threads()
    started, done = threading.Event(), []

    def interrupted():                  # the first job, on this thread, raises it
        assert started.wait(10)
        raise KeyboardInterrupt

    def running():
        started.set()
        time.sleep(0.2)                 # still running when the interrupt comes
        done.append("running")

    with pytest.raises(KeyboardInterrupt):
        side_by_side(interrupted, running, workers=2)
    assert done == ["running"]          # waited for
    assert torch.get_num_threads() == threads


def test_no_new_job_after_a_jobs_interrupt():
    done = []

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        side_by_side(interrupted, lambda: done.append("queued"), workers=1)
    assert done == []


@contextlib.contextmanager
def default_sigint():
    """Python's own SIGINT handler, as in a notebook cell (a background run ignores SIGINT);
    signals reach only the main thread."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_until(condition, timeout=10):
    """Poll `condition` (no lock taken: the signal handler may be what makes it true)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_sigint_is_held_until_the_running_jobs_end(monkeypatch):
    # Jupyter's Stop, twice, while this thread runs its own job and a helper runs another
    said = []
    monkeypatch.setattr(parallel, "print", said.append, raising=False)  # the handler's lines
    threads, done = torch.get_num_threads(), []

    def first():
        assert wait_until(lambda: "second" in done)
        done.append("first")

    def second():
        for count in (1, 2):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            assert wait_until(lambda: len(said) == count)   # the handler ran on this thread
        done.append("second")

    with default_sigint():
        with pytest.raises(KeyboardInterrupt):
            side_by_side(first, second, lambda: done.append("queued"), workers=2)
        assert sorted(done) == ["first", "second"]      # both ended; nothing new started
        assert said == ["Interrupted: no new job starts; waiting for the running ones to end.",
                        "Interrupted: no new job starts; waiting for the running ones to end "
                        "(restart the kernel to abandon them)."]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert torch.get_num_threads() == threads


@pytest.mark.parametrize("jobs, workers, backend", [
    (2, 1, None), (1, 2, None), (2, 2, "refuses"), (2, 2, "native")])
def test_sigint_not_held_when_one_job_runs_at_a_time(monkeypatch, jobs, workers, backend):
    # nothing runs beside it, so Stop stops the running job at once, as without side_by_side
    if backend == "refuses":
        pretend_threads(monkeypatch, 2, obeys=False)
    elif backend == "native":
        monkeypatch.setattr(torch.__config__, "parallel_info",
                            lambda: "ATen parallel backend: native thread pool")
    done = []

    def first():
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        time.sleep(10)                  # interrupted here
        done.append("slept")

    with default_sigint():
        with pytest.raises(KeyboardInterrupt):
            side_by_side(first, *[lambda: done.append("queued")] * (jobs - 1), workers=workers)
    assert done == []


@pytest.mark.parametrize("jobs, workers, message", [
    ((), None, "one or more functions"),
    ((1,), None, "one or more functions"),
    ((print,), 0, "workers must be a positive int"),
    ((print,), 1.5, "workers must be a positive int"),
    ((print,), True, "workers must be a positive int"),
])
def test_bad_input(jobs, workers, message):
    with pytest.raises(ValueError, match=message):
        side_by_side(*jobs, workers=workers)
