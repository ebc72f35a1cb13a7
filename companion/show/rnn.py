"""What chapter 5 shows: validation checks of runs on the adding problem, and a playground
that trains on it and draws the gradient through time.

- `GRAD_LABEL`: the axis label of ‖∂L/∂h_t‖ / ‖∂L/∂h_T‖.
- `plot_checks(runs, baseline)`: validation checks of several runs against optimizer steps.
- `adding_playground(controls, step, train_size)`: a Playground on the adding problem.

The models, the task and the probe (`hidden_state_gradients`, `relative`, `first_below`) are
in companion/rnn.py. Used in: book/05_rnn.ipynb; tests/test_rnn.py.
"""
import matplotlib.pyplot as plt
from torch import nn

from ..book import COLUMN
from ..plots import per_layer
from ..rnn import SequenceRegressor, adding_problem, hidden_state_gradients, relative
from ..widgets import Playground


GRAD_LABEL = r"$\|\partial L/\partial h_t\|$ / $\|\partial L/\partial h_T\|$"


def plot_checks(runs, baseline, ax=None, *, ylabel="validation MSE", title=None, log=True,
                baseline_label="predict the mean", legend_loc="lower left"):
    """Validation checks of several runs ({label: Snapshots of a loss}) against the optimizer
    steps done, with `baseline` as a grey dotted line (`baseline_label`); `log`: a log scale,
    so that a plateau and the fall after it both show; `legend_loc`: where the legend goes
    (lower left: clear of the plateau). Returns the Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(COLUMN, 3.2))
    for label, checks in runs.items():
        ax.plot(checks.steps, checks.values, label=label)
    ax.axhline(baseline, color="gray", linestyle=":", label=baseline_label)
    ax.set(xlabel="optimizer steps", ylabel=ylabel, yscale="log" if log else "linear")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc=legend_loc)
    return ax


def adding_playground(controls, step, train_size, *, batch_size=32, clip_grad=1.0,
                      autorun=True):
    """A Playground that trains SequenceRegressor(cell, hidden_size) on `train_size`
    adding-problem sequences of length T (seed 0; validation: 500 more, seed 1) with Adam, MSE
    and `step`, then draws the trained model's gradient through time on 256 others (seed 2),
    titled with the validation MSE and the error of always predicting 1 on those same 500
    validation sequences (no test set: a reader's choices read validation data). `controls`
    ({name: widget}) must hold "cell", "hidden_size" and "T"; the others go to fit (lr,
    epochs, ...). `autorun`: train once when displayed (Playground's)."""
    missing = sorted({"cell", "hidden_size", "T"} - set(controls))
    if missing:
        raise ValueError(f"adding_playground needs controls named cell, hidden_size and T; "
                         f"missing {', '.join(missing)}")

    def val_data(T):
        return adding_problem(500, T, seed=1)

    def data(T):                       # sequences of length T (fixed seeds), no test set
        return adding_problem(train_size, T, seed=0), None, val_data(T)

    def val_baseline(T):               # always predicting 1 on the validation sequences
        return ((val_data(T)[1] - 1) ** 2).mean().item()

    def build(cell, hidden_size):
        return SequenceRegressor(cell, hidden_size=hidden_size)

    def after_train(model, history, settings):
        X, y = adding_problem(256, settings["T"], seed=2)
        norms = hidden_state_gradients(model, X, y)
        baseline = val_baseline(settings["T"])
        fig, ax = plt.subplots(figsize=(COLUMN, 2.6))
        per_layer({f"{settings['cell']}, trained": relative(norms)}, ax,
                  xlabel="time step t", ylabel=GRAD_LABEL,
                  title=f"validation MSE {history.val_loss[-1]:.4f} "
                        f"(predicting 1 on them: {baseline:.4f})")
        fig.tight_layout()
        return fig

    return Playground(build, controls, data=data, input_shape=(1, 10, 2),
                      fit_kwargs=dict(batch_size=batch_size, clip_grad=clip_grad, step=step,
                                      loss_fn=nn.MSELoss()),
                      after_train=after_train, title="adding problem",
                      autorun=autorun)
