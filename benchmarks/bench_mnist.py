"""MNIST to 99 % and 99.5 %: the source article's recipe against the book's, on the same data.

Runs in one process, on the same MNIST files, four ways:
  a  literal  - the article's recipe translated literally: torchvision MNIST with ToTensor
                through a DataLoader, batch 32, Adam 1e-3, float32, evaluated after every epoch,
                stopping at >= 99.0 % test accuracy or after 10 epochs;
  b  fit      - the same model and optimizer through companion.training.fit (tensors held in
                memory, bfloat16 autocast, channels_last), same stopping rule;
  c  speedrun - the book's recipe for 99.0 % (companion.mnist.speedrun(target=0.99));
  d  speedrun - the book's recipe for 99.5 % (companion.mnist.speedrun(target=0.995)).
Prints one JSON line per run (training seconds until the target, accuracy reached, seconds per
epoch, total wall seconds) and a last line with the ratios against (a). Training seconds exclude
evaluation. Goals on 2 CPU cores: c <= 3 s, d reaches 99.5 % in <= 30 s, b's seconds per epoch
<= 0.7 x a's.

    BOOK_THREADS=2 .venv/bin/python benchmarks/bench_mnist.py [--only a,b,c,d] [--max-epochs 10]
"""
import argparse
import json
import time

import torch
from torch import nn

from companion.book import default_threads
from companion.data import load_mnist
from companion.mnist import SPEEDRUNS, seed_cnn, speedrun
from companion.training import fit


def literal(root, device, max_epochs, target=0.99):
    """The article's recipe, literally: PIL images -> ToTensor -> DataLoader, batch 32, Adam."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    train = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    test = datasets.MNIST(str(root), train=False, download=False, transform=transforms.ToTensor())
    torch.manual_seed(0)
    train_loader = DataLoader(train, batch_size=32, shuffle=True)
    test_loader = DataLoader(test, batch_size=1000)
    model = seed_cnn().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    seconds, accuracies = [], []
    for _ in range(max_epochs):
        model.train()
        start = time.perf_counter()
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            loss = loss_fn(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
        model.eval()
        correct = 0
        with torch.no_grad():
            for X, y in test_loader:
                correct += (model(X.to(device)).argmax(1) == y.to(device)).sum().item()
        accuracies.append(correct / len(test))
        if accuracies[-1] >= target:
            break
    return seconds, accuracies


def report(name, recipe, target, seconds, accuracies, wall):
    reached = [i for i, acc in enumerate(accuracies) if acc >= target]
    row = {
        "run": name, "recipe": recipe, "target": target,
        "reached": bool(reached),
        "seconds_to_target": round(sum(seconds[:reached[0] + 1]), 2) if reached else None,
        "accuracy": accuracies[reached[0]] if reached else max(accuracies),
        "epochs": len(seconds),
        "seconds_per_epoch": round(sum(seconds) / len(seconds), 2),
        "training_seconds": round(sum(seconds), 2),
        "wall_seconds": round(wall, 2),
    }
    print(json.dumps(row), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c,d", help="which runs, e.g. c,d")
    parser.add_argument("--max-epochs", type=int, default=10, help="for a and b")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    args = parser.parse_args()
    torch.set_num_threads(default_threads())
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    mnist = load_mnist()
    print(json.dumps({"torch": torch.__version__, "device": str(device),
                      "threads": torch.get_num_threads(), "data": mnist.source}), flush=True)
    only, rows = args.only.split(","), {}

    if "a" in only:
        start = time.perf_counter()
        seconds, accs = literal(mnist.root, device, args.max_epochs)
        rows["a"] = report("a_literal", "torchvision ToTensor + DataLoader, batch 32, Adam 1e-3, "
                           "float32", 0.99, seconds, accs, time.perf_counter() - start)
    if "b" in only:
        start = time.perf_counter()
        torch.manual_seed(0)
        history = fit(seed_cnn(), mnist.train, mnist.test, epochs=args.max_epochs,
                      batch_size=32, lr=1e-3, optimizer="adam", amp=True, channels_last=True,
                      stop_at=0.99, live=False, device=device)
        rows["b"] = report("b_seed_fit", "seed_cnn through fit: tensors, batch 32, Adam 1e-3, "
                           "bfloat16 autocast, channels_last", 0.99, history.seconds,
                           history.test_acc, time.perf_counter() - start)
    for key, target in (("c", 0.99), ("d", 0.995)):
        if key in only:
            start = time.perf_counter()
            _, history = speedrun(mnist.train, mnist.test, target, device=device)
            recipe = SPEEDRUNS[target]
            rows[key] = report(f"{key}_speedrun_{target}", f"speedrun_net({recipe['net']}), "
                               f"fit({recipe['fit']}, bfloat16, channels_last)", target,
                               history.seconds, history.test_acc, time.perf_counter() - start)

    if "a" in rows:
        a = rows["a"]
        ratios = {}
        for key, row in rows.items():
            if key == "a":
                continue
            ratios[f"{key}_seconds_per_epoch_vs_a"] = round(
                row["seconds_per_epoch"] / a["seconds_per_epoch"], 3)
            if row["reached"] and a["reached"]:
                ratios[f"{key}_speedup_to_target_vs_a"] = round(
                    a["seconds_to_target"] / row["seconds_to_target"], 1)
            elif row["reached"]:  # a never got there: compare with all of a's training
                ratios[f"{key}_speedup_vs_all_of_a"] = round(
                    a["training_seconds"] / row["seconds_to_target"], 1)
        print(json.dumps({"ratios": ratios}), flush=True)


if __name__ == "__main__":
    main()
