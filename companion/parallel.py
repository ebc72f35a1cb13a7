"""Independent trainings side by side, one torch thread each.

A small model trains in many small operations (one GRU time step at batch 64 is a small
matrix product and a few elementwise ones), and a second core splits work that small
badly: two threads make one training far less than twice as fast. Two trainings at once,
one thread each, do better: on two cores they finish sooner than the two one after the other
(less so where the two "cores" are one core's hyperthreads). PyTorch lets go of Python's
lock (the GIL) inside its operations and during `backward`, so plain Python threads run them
at the same time.

The jobs must be independent: each trains its own model and draws no random numbers while it
trains. Torch's global generator is shared between threads, so build and seed every model
first, on one thread, and keep dropout out (`fit` reseeds the generator at its start, which is
harmless then). Only the first job may show a figure: it runs on the calling thread. The
results are then exactly those of running the jobs one after another, each on one thread.
Where the jobs run one at a time (one thread or one job, where CUDA is available, or on
torch's "native" parallel backend, which takes a new thread count only before its first
parallel work) this is a plain loop on torch's threads.
Used in: 05_rnn, 06_attention, 07_transformer.
"""
import contextlib
import signal
import threading
import warnings

import torch


def side_by_side(*jobs, workers=None):
    """Run `jobs` (functions of no arguments) at once, at most `workers` at a time, each with one
    torch thread; return their results in order. Where they run one at a time (one worker or
    one job, CUDA available, torch's native backend, a refused change: below) this is a plain
    loop, with torch's thread count as it was.

    workers: how many at once; default torch's thread count (what `book.setup` chose), or 1
    where CUDA is available (`fit` trains there, and a GPU's work does not split this way).
    On torch's "native" parallel backend (it takes a new thread count only before its first
    parallel work, so `book.setup`'s is the last), or where torch refuses the change, the jobs
    run one at a time, whatever `workers` says. If no helper thread can start, they run on this
    thread, one at a time, each still with one torch thread.
    The first job runs on this thread; the others are handed out as threads become free, so
    put the longest early. The helper threads take this thread's grad mode and inference mode;
    other per-thread settings (autocast, a default device) are the jobs' own to set, as `fit`
    does. A job must not call side_by_side itself.
    If a job raises, no new job starts, the running ones finish, and the first error in job
    order is raised. An interrupt (Jupyter's Stop) while several jobs run is held (on the main
    thread, under Python's default SIGINT handler, as in a notebook cell): no new job starts,
    the running ones finish, then KeyboardInterrupt is raised. Torch's thread count is restored.
    """
    if not jobs or not all(callable(job) for job in jobs):
        raise ValueError(f"side_by_side expects one or more functions of no arguments; got "
                         f"{[type(job).__name__ for job in jobs]}")
    if workers is None:
        workers = 1 if torch.cuda.is_available() else torch.get_num_threads()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int; got {workers!r}")
    results, errors = [None] * len(jobs), [None] * len(jobs)
    queue = iter(range(len(jobs)))          # job indices, handed out in order
    lock, stop = threading.Lock(), _Flag()
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def run(i):
        try:
            results[i] = jobs[i]()
        except BaseException as error:      # re-raised on the calling thread
            errors[i] = error
            with lock:
                stop.set()                  # start no new job

    def work():
        while True:
            with lock:
                i = None if stop.is_set() else next(queue, None)
            if i is None:
                return
            run(i)

    def helper(finished):
        try:
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                work()
        finally:
            finished.set()

    threads, count = torch.get_num_threads(), min(workers, len(jobs))
    if count > 1 and _native_backend():
        count = 1                           # a change could not be undone there
    changed = False
    try:
        if count > 1:
            changed = True                  # (before the change: restored whatever happens)
            _set_threads(1)                 # one thread per job
            if torch.get_num_threads() != 1:
                count = 1                   # torch refused: one job at a time
        with _holding_interrupts(stop, count > 1) as interrupts:
            first = next(queue)             # the first job is this thread's
            finished = []
            for _ in range(count - 1):
                event = threading.Event()
                try:
                    threading.Thread(target=helper, args=(event,), daemon=True).start()
                except RuntimeError:        # no more threads: go on with those started
                    break
                finished.append(event)
            run(first)                      # (even if a helper's job has failed already)
            work()                          # then whatever is left
            for event in finished:
                event.wait()
    finally:
        stop.set()
        if changed:
            _set_threads(threads)
    first_error = next((error for error in errors if error is not None), None)
    if interrupts:
        raise KeyboardInterrupt from first_error
    if first_error is not None:
        raise first_error
    return results


class _Flag:
    """A flag any thread or a signal handler may set. Unlike threading.Event it takes no lock, so
    a handler that runs while its own thread is setting it cannot deadlock (nothing waits on
    it)."""

    def __init__(self):
        self.value = False

    def set(self):
        self.value = True

    def is_set(self):
        return self.value


@contextlib.contextmanager
def _holding_interrupts(stop, hold):
    """While the block runs, an interrupt (SIGINT) sets `stop` and prints a line instead of
    raising; the list yielded records them. Only if `hold`, on the main thread, under Python's
    default handler (signals reach only the main thread; any other handler is left alone)."""
    interrupts = []
    if not (hold and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        yield interrupts
        return

    def on_interrupt(signum, frame):
        interrupts.append(signum)
        stop.set()
        try:
            print("Interrupted: no new job starts; waiting for the running ones to end"
                  + (" (restart the kernel to abandon them)." if len(interrupts) > 1 else "."))
        except Exception:                   # a print already under way here, a closed stdout
            pass

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _native_backend():
    """True where torch runs its "native" parallel backend: it takes a new thread count only
    before its first parallel work (later ones are refused with a warning), so a change made
    here could not be undone."""
    return "parallel backend: native" in torch.__config__.parallel_info()


def _set_threads(count):
    """torch.set_num_threads(count); its "native" parallel backend refuses a change once its
    parallel work has begun (with a warning, silenced here) and keeps the count it has."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cannot set number of intraop threads")
        torch.set_num_threads(count)
