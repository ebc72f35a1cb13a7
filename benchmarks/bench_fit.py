"""How much does `fit` (with live curves drawing) cost over a bare PyTorch loop?

Trains the same model on the same MNIST tensors, with the same seed, three ways:
  bare   - a minimal loop: seeded permutation, forward, loss, backward, step;
  fit    - companion.training.fit with live=False;
  live   - fit with live curves rendering PNG frames as in a notebook (mode "render").
Prints one JSON line per run, the share of each live run spent drawing (a direct measure that
the machine's drift does not blur), and the overheads. Goal: live <= 5 % over bare.

    .venv/bin/python benchmarks/bench_fit.py [--images 60000] [--epochs 2] [--repeats 3]
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn

from companion.book import default_threads
from companion.data import load_mnist, take
from companion.training import fit
from companion.curves import LiveCurves


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(                                     # (batch, 1, 28, 28)
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (batch, 16, 14, 14)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (batch, 32, 7, 7)
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))              # (batch, 10)


def bare_loop(model, X, y, epochs, batch_size, lr, seed):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # as fit chooses
    model, X, y = model.to(device), X.to(device), y.to(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator).to(device)
        for i in range(0, len(X), batch_size):
            index = order[i:i + batch_size]
            loss = loss_fn(model(X[index]), y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(default_threads())
    train = take(load_mnist().train, args.images)
    X, y = train.tensors
    common = dict(epochs=args.epochs, batch_size=args.batch_size, lr=1e-3, seed=0)
    runs = {"bare": [], "fit": [], "live": []}
    drawing = []  # (redraws, seconds spent drawing, run seconds) of each live run
    def run(name):
        model = make_model()
        start = time.perf_counter()
        if name == "bare":
            bare_loop(model, X, y, **common)
        elif name == "fit":
            fit(model, train, live=False, **common)
        else:
            curves = LiveCurves(args.epochs, mode="render")
            fit(model, train, live=curves, **common)
            drawing.append((curves.draws, curves.draw_seconds, time.perf_counter() - start))
        runs[name].append(time.perf_counter() - start)

    run("bare")  # warm-up, not counted
    runs["bare"].clear()
    order = list(runs)
    for repeat in range(args.repeats):  # interleaved and rotated: drift hits all three alike
        for name in order[repeat % 3:] + order[:repeat % 3]:
            run(name)
    best = {name: min(times) for name, times in runs.items()}
    median = {name: statistics.median(times) for name, times in runs.items()}
    for name, times in runs.items():
        print(json.dumps({"run": name, "images": args.images, "epochs": args.epochs,
                          "threads": torch.get_num_threads(), "best_s": round(best[name], 3),
                          "median_s": round(median[name], 3),
                          "all_s": [round(t, 3) for t in times]}))
    # The direct measure, immune to the machine's drift: the share of a live run spent drawing.
    print(json.dumps({"live_drawing": [{"redraws": n, "draw_s": round(d, 3),
                                        "percent_of_run": round(100 * d / total, 2)}
                                       for n, d, total in drawing]}))
    for name in ("fit", "live"):  # best-of is the least noisy on a shared machine
        print(json.dumps({"overhead_vs_bare": name,
                          "percent_best": round(100 * (best[name] / best["bare"] - 1), 2),
                          "percent_median": round(100 * (median[name] / median["bare"] - 1), 2)}))


if __name__ == "__main__":
    main()
