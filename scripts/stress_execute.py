"""Execute chapters again and again in fresh kernels, as nbmake does, and report every hang.

Each execution runs in its own Python process with nbclient's `NotebookClient` set up exactly
as nbmake 1.5 sets it up (the notebook's outputs cleared, `timeout` per cell, no errors allowed,
`record_timing`, the notebook's folder as working directory), so what hangs here hangs in
`make test`. Load, as shared CI machines and readers' laptops have it: `--burn N` starts N
processes that only burn CPU, `--parallel K` runs K executions at once (each with
BOOK_THREADS=1 unless `--threads` says otherwise).

A cell that takes longer than `--timeout` seconds is a hang: the report names the chapter, the
cell index, the first line of its code, how long ago the client last heard anything about that
cell and what it was (the last IOPub message), whether the execute_reply had arrived, and
whether a message was waiting unread in the client's sockets. A cell whose reply reached the
client only when the wait timed out (the kernel ran it in a second; the client sat idle with
the reply unread until its poll's timeout looked again) is a hang too, although nbclient then
goes on. With `--py-spy PATH` it also dumps the kernel's Python stacks at a timeout. Every
other error is a failure, with the chapter, the cell and the error's last line. The last line
is a summary:

    stress: 60 executions (intro 20, 01_learning 20, 03_cnn 20): 60 passed, 0 hangs, 0 failures

`repro` as a chapter name executes a three-cell notebook (setup; a playground that trains a
tiny MLP with live curves redrawn after every batch into its Output widget; one more cell) that
sends as many widget messages per second as it can.

    .venv/bin/python scripts/stress_execute.py                        # every chapter, once
    .venv/bin/python scripts/stress_execute.py intro 01_learning -n 20 --burn 2
    .venv/bin/python scripts/stress_execute.py repro -n 200 --parallel 2 --burn 1
    .venv/bin/python scripts/stress_execute.py --times        # the slowest cells per chapter
    .venv/bin/python scripts/stress_execute.py --full --limits  # the limits, full mode
    .venv/bin/python scripts/stress_execute.py --limits         # and fast mode

`--limits` ends with one more line: each chapter's slowest execution (kernel start to shutdown,
as nbmake counts it) against the book's limit, 60 s in full mode and 30 s in fast mode, and in
full mode the whole book (the sum of those, when every chapter passed) against 5 minutes; then
the number of CPUs and torch's view of them. Those limits are for a 2-core AVX2 machine without
a GPU (issue 21), so measure them one execution at a time, with no burners and the default 2
threads (it refuses otherwise); a missed limit makes the exit status 1.

Exit status 1 when anything hung or failed (or, with `--limits`, missed a limit). `--log FILE`
appends one JSON line per execution.

Measured with it on a 2-core AVX2 machine (no GPU), fast mode, December 2026 (details in the
closing note of issue 18):
- before (d5475ee: live curves captured into an Output widget): intro, 01_learning and 03_cnn,
  39 executions (2 at once beside a CPU burner, or CI's 2 threads beside 2 burners): 4 hangs,
  every one at a playground cell (01_learning cell 54 three times, 03_cnn cell 60), the reply
  unread in the client until the 240 s timeout; `repro`, 37 executions: 2 hangs.
- after (00ac363: Output contents set from the kernel): every chapter, 26 executions (2 at once
  with a JupyterLab walk beside them): 0 hangs, 0 failures, and the 8 walks passed.
- after, in all (00ac363 to 2b7f64b, December 2026; every chapter, fast mode): 219 logged
  executions (one at a time with 2 threads, 2 at once with 1 thread each, beside a CPU burner, or
  beside up to 8 helpers training and executing chapters) and 20 JupyterLab walks
  (`scripts/check_jupyterlab.py`): 0 hangs, 0 failures.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
BOOK = TOP / "book"

REPRO_CELLS = [
    "from companion.book import setup\nsetup()",
    '''import ipywidgets as widgets
from torch import nn
from companion.curves import LiveCurves
from companion.data import make_spirals
from companion.widgets import Playground

LiveCurves.__init__.__kwdefaults__["min_interval"] = 0.0   # redraw as often as allowed
LiveCurves.interval_per_draw_cost = 0
X, y = make_spirals(1200, seed=0)


def build(width):
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 2))


Playground(build, {"width": widgets.IntSlider(value=16, min=1, max=64),
                   "epochs": widgets.IntSlider(value=4, min=1, max=20),
                   "batch_size": widgets.IntSlider(value=32, min=8, max=64)},
           (X[:1000], y[:1000]), (X[1000:], y[1000:]), input_shape=(1, 2),
           title="repro")''',
    "print('after the playground')",
]


# -- one execution (a child process) ---------------------------------------------------------
def execute(path, timeout, py_spy=None):
    """Execute one notebook as nbmake does; return a dict that says what happened."""
    import nbformat
    from nbclient.client import CellExecutionError, CellTimeoutError, NotebookClient

    nb = nbformat.read(str(path), 4)
    for cell in nb.cells:                      # nbmake clears outputs first
        if cell.cell_type == "code":
            cell.outputs = []
    seen = {"cell": None, "last": None, "at": time.monotonic(), "reply": False, "sent": {}}

    class Client(NotebookClient):
        """nbmake's client, plus a note of the last message heard about the running cell."""

        def process_message(self, msg, cell, cell_index):
            content = msg.get("content", {})
            what = msg["msg_type"]
            if what == "status":
                what += f" {content.get('execution_state')}"
            elif what.startswith("comm"):
                state = content.get("data", {}).get("state", {})
                what += f" {content.get('data', {}).get('method', '')} {sorted(state)[:3]}"
            seen["last"], seen["at"] = what, time.monotonic()
            return super().process_message(msg, cell, cell_index)

        async def _async_handle_timeout(self, timeout, cell=None):
            import zmq
            seen["reply"] = "shell.execute_reply" in cell.metadata.get("execution", {})
            # A message waiting unread on a socket means the client missed it, not the kernel.
            seen["unread"] = [name for name in ("shell", "iopub") if getattr(
                self.kc, f"{name}_channel").socket.getsockopt(zmq.EVENTS) & zmq.POLLIN]
            if py_spy and self.km is not None:
                pid = self.km.provisioner.process.pid
                dump = subprocess.run([py_spy, "dump", "--pid", str(pid)],
                                      capture_output=True, text=True)
                seen["kernel_stacks"] = dump.stdout + dump.stderr
            return await super()._async_handle_timeout(timeout, cell)

    client = Client(nb, timeout=timeout, allow_errors=False, interrupt_on_timeout=False,
                    record_timing=True)

    async def started(cell, cell_index):
        seen["cell"], seen["last"], seen["at"] = cell_index, "execute_request sent", time.monotonic()
        seen["sent"][cell_index] = time.time()

    async def executed(cell, cell_index, execute_reply):
        seen["done"][cell_index] = time.time()

    client.on_cell_execute = started
    client.on_cell_executed = executed
    seen["done"] = {}
    start, start_wall = time.perf_counter(), time.time()
    result = {"chapter": path.stem, "status": "passed"}
    try:
        client.execute(cwd=str(path.parent))
    except CellTimeoutError:
        index = seen["cell"]
        result.update(status="hang", cell=index,
                      code=nb.cells[index].source.strip().splitlines()[0][:70],
                      last_message=seen["last"],
                      silent_for=round(time.monotonic() - seen["at"], 1),
                      execute_reply_arrived=seen["reply"],
                      unread_on=seen.get("unread"))
        if "kernel_stacks" in seen:
            result["kernel_stacks"] = seen["kernel_stacks"]
    except CellExecutionError as error:
        index = seen["cell"]
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        result.update(status="failure", cell=index, error=lines[-1][:300] if lines else "")
    except Exception as error:                 # a dead kernel, a kernel that did not start
        result.update(status="failure", cell=seen["cell"],
                      error=f"{type(error).__name__}: {error}"[:300])
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["cell_seconds"], result["waits"] = cell_seconds(nb, seen["sent"])
    # Where the rest of the time went: starting the kernel, waiting for IOPub after a reply
    # (client seconds per cell), shutting the kernel down.
    if seen["sent"]:
        first, last = min(seen["sent"]), max(seen["done"] or seen["sent"])
        result["start_seconds"] = round(seen["sent"][first] - start_wall, 1)
        result["end_seconds"] = round(time.time() - seen["done"].get(last, time.time()), 1)
        result["client_seconds"] = {i: round(seen["done"][i] - seen["sent"][i], 2)
                                    for i in seen["done"] if i in seen["sent"]}
        # A reply that reached the client only when its wait timed out: the poll at the timeout
        # found it waiting unread in the socket. Without the timeout this is a hang.
        for index, seconds in result["client_seconds"].items():
            if result["status"] == "passed" and seconds - result["cell_seconds"].get(
                    index, 0) > timeout / 2:
                result.update(status="hang", cell=index,
                              code=nb.cells[index].source.strip().splitlines()[0][:70],
                              last_message=seen["last"], silent_for=round(seconds, 1),
                              execute_reply_arrived=True, rescued=True,
                              kernel_seconds=result["cell_seconds"].get(index))
    return result


def cell_seconds(nb, sent):
    """({cell: seconds from execute_input to execute_reply}, {cell: seconds the request waited
    before the kernel started it, when over 2 s}) for the cells that ran."""
    from datetime import datetime

    times, waits = {}, {}
    for index, cell in enumerate(nb.cells):
        execution = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in execution and "shell.execute_reply" in execution:
            begin, end = (datetime.fromisoformat(execution[key].replace("Z", "+00:00"))
                          for key in ("iopub.execute_input", "shell.execute_reply"))
            times[index] = round((end - begin).total_seconds(), 2)
            if index in sent and begin.timestamp() - sent[index] > 2:
                waits[index] = round(begin.timestamp() - sent[index], 1)
    return times, waits


# -- the campaign (the parent process) ----------------------------------------------------------
def chapter_paths(names, scratch):
    paths = []
    for name in names or sorted(p.stem for p in BOOK.glob("*.ipynb")):
        if name == "repro":
            import nbformat
            nb = nbformat.v4.new_notebook(
                cells=[nbformat.v4.new_code_cell(source) for source in REPRO_CELLS])
            path = Path(scratch) / "repro.ipynb"
            nbformat.write(nb, str(path))
            paths.append(path)
            continue
        path = BOOK / (Path(name).stem + ".ipynb")
        if not path.exists():
            sys.exit(f"stress_execute: no chapter {name!r} in {BOOK}")
        paths.append(path)
    return paths


CHAPTER_LIMIT = {"full": 60, "fast": 30}   # seconds per chapter, kernel start to shutdown
BOOK_LIMIT = 300                           # seconds for every chapter, full mode, in a row


def limits_line(results, full, asked, book, machine=""):
    """The limits line of `--limits` and whether every limit was kept: each chapter of `asked`
    (its slowest passed execution) against CHAPTER_LIMIT, and in full mode, when every chapter
    of `book` passed, the sum of their slowest executions against BOOK_LIMIT. A chapter that
    hung (a cell past the timeout) is over its limit; one that failed or never ran has no time."""
    mode, limit = ("full" if full else "fast"), CHAPTER_LIMIT["full" if full else "fast"]
    slowest, hung, failed = {}, set(), set()
    for result in results:
        chapter = result["chapter"]
        if result["status"] == "passed":
            slowest[chapter] = max(slowest.get(chapter, 0), result["seconds"])
        else:
            (hung if result["status"] == "hang" else failed).add(chapter)
    over = [f"{chapter} {seconds} s" for chapter, seconds in slowest.items()
            if seconds > limit and chapter not in hung]
    over += [f"{chapter} hung" for chapter in sorted(hung)]
    unknown = sorted(failed - hung) + [c for c in asked if c not in {*slowest, *hung, *failed}]
    if over:
        parts = [f"{mode} mode: {', '.join(over)}: over {limit} s"]
    elif slowest and not unknown:
        parts = [f"{mode} mode: every chapter within {limit} s"]
    else:
        parts = [f"{mode} mode: no verdict"]
    if unknown:
        parts.append(f"no time (failed or never ran): {', '.join(unknown)}")
    kept = not over and not unknown and bool(slowest)
    if full and book and set(book) <= set(slowest) and not (hung | failed):
        total = round(sum(slowest[chapter] for chapter in book), 1)
        parts.append(f"the whole book {total} s, {'within' if total <= BOOK_LIMIT else 'over'} "
                     f"{BOOK_LIMIT} s")
        kept = kept and total <= BOOK_LIMIT
    elif full:
        parts.append("the whole book: no verdict (not every chapter of book/ passed)")
    times = ", ".join(f"{chapter} {seconds}" for chapter, seconds in slowest.items())
    return (f"limits: {'; '.join(parts)} (slowest execution, s: {times or 'none'})"
            + (f"; {machine}" if machine else "")), kept


def burners(count):
    """`count` processes that keep one core busy each (a CI machine's neighbours)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def describe(result):
    where = f"{result['chapter']} cell {result.get('cell')}"
    if result.get("rescued"):
        return (f"HANG    {where} ({result['code']!r}): the kernel ran it in "
                f"{result['kernel_seconds']} s, but its reply sat unread in the client until the "
                f"wait timed out ({result['silent_for']} s); the execution then went on")
    if result["status"] == "hang":
        return (f"HANG    {where} ({result['code']!r}): last message {result['last_message']!r},"
                f" {result['silent_for']} s before the timeout; execute_reply "
                f"{'arrived' if result['execute_reply_arrived'] else 'never arrived'}; "
                f"unread messages on {result.get('unread_on') or 'no socket'}")
    if result["status"] == "failure":
        return f"FAILURE {where}: {result['error']}"
    slowest = max(result["cell_seconds"].items(), key=lambda kv: kv[1], default=(None, 0))
    waits = "".join(f"; cell {index} waited {seconds} s before it started"
                    for index, seconds in result.get("waits", {}).items())
    for index, seconds in result.get("client_seconds", {}).items():
        extra = seconds - result["cell_seconds"].get(str(index), result["cell_seconds"].get(
            index, seconds))
        if extra > 5:
            waits += f"; cell {index} took the client {extra:.1f} s longer than the kernel"
    for phase in ("start", "end"):
        if result.get(f"{phase}_seconds", 0) > 20:
            waits += f"; kernel {phase} {result[f'{phase}_seconds']} s"
    return (f"passed  {result['chapter']} in {result['seconds']} s "
            f"(slowest cell {slowest[0]}: {slowest[1]} s{waits})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*",
                        help="chapter names (intro, 01_learning, ...) or 'repro'; "
                             "default: every chapter in book/")
    parser.add_argument("-n", "--runs", type=int, default=1, help="executions of each chapter")
    parser.add_argument("--parallel", type=int, default=1, help="executions at once")
    parser.add_argument("--burn", type=int, default=0, help="CPU-burning neighbour processes")
    parser.add_argument("--threads", type=int, default=None,
                        help="BOOK_THREADS per execution (default: 2 alone, 1 in parallel)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    parser.add_argument("--full", action="store_true", help="full mode (default: BOOK_FAST=1)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="start no new execution after this many minutes")
    parser.add_argument("--log", help="append one JSON line per execution to this file")
    parser.add_argument("--py-spy", help="path of py-spy: dump the kernel's stacks on a hang")
    parser.add_argument("--times", action="store_true",
                        help="print the slowest cells of each chapter at the end")
    parser.add_argument("--limits", action="store_true",
                        help="end with each chapter's time against the book's limits")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:                                  # a child: one execution, one JSON line
        print(json.dumps(execute(Path(args.worker), args.timeout, args.py_spy)), flush=True)
        return 0

    scratch = tempfile.mkdtemp(prefix="stress-")
    paths = chapter_paths(args.chapters, scratch)
    queue = [path for _ in range(args.runs) for path in paths]
    threads = args.threads or (2 if args.parallel == 1 else 1)
    # This checkout's companion, even where another one is installed in editable mode.
    path = os.pathsep.join(filter(None, [str(TOP), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "BOOK_FAST": "0" if args.full else "1", "BOOK_THREADS": str(threads),
           "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    condition = (f"{'full' if args.full else 'fast'} mode, {args.parallel} at once, "
                 f"{threads} thread{'s' * (threads > 1)} each, {args.burn} burner"
                 f"{'s' * (args.burn != 1)}, cell timeout {args.timeout} s")
    print(f"stress: {len(queue)} executions ({condition})", flush=True)
    neighbours = burners(args.burn)
    running, results = [], []
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else None
    try:
        while queue or running:
            while queue and len(running) < args.parallel and (
                    deadline is None or time.monotonic() < deadline):
                path = queue.pop(0)
                command = [sys.executable, __file__, "--worker", str(path),
                           "--timeout", str(args.timeout)]
                if args.py_spy:
                    command += ["--py-spy", args.py_spy]
                stderr = tempfile.TemporaryFile(mode="w+")   # the kernel's warnings
                process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                           stderr=stderr, text=True, cwd=TOP)
                process.stderr_file = stderr
                running.append(process)
            if deadline is not None and time.monotonic() >= deadline:
                queue.clear()
            for process in list(running):
                if process.poll() is None:
                    continue
                running.remove(process)
                lines = process.stdout.read().strip().splitlines()
                try:
                    result = json.loads(lines[-1])
                except (IndexError, json.JSONDecodeError):
                    result = {"chapter": "?", "status": "failure",
                              "error": f"the worker exited with {process.returncode}"}
                result["condition"] = condition
                process.stderr_file.seek(0)
                if result["status"] != "passed":
                    result["stderr"] = process.stderr_file.read()[-2000:]
                process.stderr_file.close()
                results.append(result)
                print(describe(result), flush=True)
                for detail in ("kernel_stacks", "stderr"):
                    if result.get(detail):
                        print(result[detail], flush=True)
                if args.log:
                    with open(args.log, "a") as log:
                        log.write(json.dumps(result) + "\n")
            time.sleep(0.2)
    finally:
        for process in neighbours + running:
            process.send_signal(signal.SIGTERM)
        for process in neighbours + running:
            process.wait()
    status = summarize(results, condition, args.times)
    if args.limits:
        sys.path.insert(0, str(TOP))        # this checkout's companion
        import torch
        from companion.hardware import describe_cpu
        if args.parallel > 1 or args.burn or threads != 2:
            print("limits: these are for one execution at a time with 2 threads and no burners; "
                  "not checked here", flush=True)
        elif torch.cuda.is_available():
            print("limits: the chapters trained on the GPU here; the limits are for a CPU",
                  flush=True)
        else:
            book = sorted(path.stem for path in BOOK.glob("*.ipynb"))
            asked = [path.stem for path in paths if path.stem != "repro"]
            line, kept = limits_line(results, args.full, asked, book,
                                     f"{os.cpu_count()} CPUs, torch sees {describe_cpu()} "
                                     f"(the limits are for 2 cores, AVX2)")
            print(line, flush=True)
            status = status or (0 if kept else 1)
    return status


def summarize(results, condition, times):
    counts = {}
    for result in results:
        counts[result["chapter"]] = counts.get(result["chapter"], 0) + 1
    by_status = {s: sum(r["status"] == s for r in results) for s in ("passed", "hang", "failure")}
    if times:
        for chapter in counts:
            slowest = {}
            for result in results:
                if result["chapter"] == chapter:
                    for index, seconds in result.get("cell_seconds", {}).items():
                        slowest[index] = max(slowest.get(index, 0), seconds)
            top = sorted(slowest.items(), key=lambda kv: -kv[1])[:3]
            print(f"times   {chapter}: slowest cells " +
                  ", ".join(f"{index}: {seconds} s" for index, seconds in top))
    each = ", ".join(f"{chapter} {count}" for chapter, count in counts.items())
    print(f"stress: {len(results)} executions ({each}; {condition}): {by_status['passed']} "
          f"passed, {by_status['hang']} hangs, {by_status['failure']} failures", flush=True)
    return 0 if by_status["passed"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
