"""Snapshots of a run: a `fit` callback that records something about the model at chosen
moments of training, for a figure or an explorer that replays the run.

    film = Snapshots(lambda: model[0].weight.detach().clone(), per_epoch=2)
    fit(model, train, epochs=3, callbacks=[film])
    film.moments    # [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]: epochs done at each snapshot
    film.values     # what the function returned at those moments

Recording only reads the model: the run trains exactly as it would without the callback (the
function must not draw from the global random generator or change the model).
The chapters' films are this class with a function chosen for them: `cnn.KernelSnapshots`,
`learning.Snapshots`, `resnet.GradientSnapshots`, `rnn.SampleSnapshots`,
`seq2seq.AttentionSnapshots`.
"""
from ._validate import check_positive_int


class Snapshots:
    """Call `record()` before training (unless `before=False`) and then on one schedule:

    steps=[...]     after these optimizer steps, counted from 1 over the whole run;
    every=k         after every k-th batch of an epoch, and after each epoch's last batch;
    per_epoch=k     k evenly spaced times an epoch (at the first batch that reaches each);
    epochs=[...]    at the end of these epochs (numbered from 1);
    none of them    at the end of every epoch.

    After the run: `moments` (epochs done when each snapshot was taken, a float: 0.0 before
    training, 1.5 halfway through the second epoch), `steps` (optimizer steps done then) and
    `values` (what `record()` returned), three lists of the same length.
    """

    def __init__(self, record, *, steps=None, every=None, per_epoch=None, epochs=None,
                 before=True):
        if not callable(record):
            raise ValueError(f"Snapshots needs a function to call at each snapshot; got "
                             f"{type(record).__name__}")
        given = [name for name, value in (("steps", steps), ("every", every),
                                          ("per_epoch", per_epoch), ("epochs", epochs))
                 if value is not None]
        if len(given) > 1:
            raise ValueError(f"Snapshots takes one schedule: steps, every, per_epoch or "
                             f"epochs; got {' and '.join(given)}")
        if every is not None:
            check_positive_int("every", every)
        if per_epoch is not None:
            check_positive_int("per_epoch", per_epoch)
        self._steps = _numbered("steps", steps, first=1)
        self._epochs = _numbered("epochs", epochs, first=1)
        self.every, self.per_epoch = every, per_epoch
        self.record = record
        self.moments, self.steps, self.values = [], [], []
        self._step = 0
        if before:
            self._take(0.0)

    @property
    def schedule(self):
        """The schedule in words, for `repr`."""
        if self._steps is not None:
            return f"steps {sorted(self._steps)}"
        if self.every is not None:
            return f"every {self.every} batches"
        if self.per_epoch is not None:
            return f"{self.per_epoch} an epoch"
        return "every epoch" if self._epochs is None else f"epochs {sorted(self._epochs)}"

    def __repr__(self):
        return f"{type(self).__name__}({len(self.values)} snapshots, {self.schedule})"

    def _take(self, moment):
        self.moments.append(moment)
        self.steps.append(self._step)
        self.values.append(self.record())

    def batch_end(self, record):
        """Called by `fit` after every batch (`record.batch` counts from 1 in each epoch)."""
        batch, num_batches = record.batch, record.num_batches
        self._step = record.epoch * num_batches + batch
        if self._steps is not None and self._step in self._steps:
            self._take(record.epoch + batch / num_batches)
        elif self.every is not None and (batch % self.every == 0 or batch == num_batches):
            self._take(record.epoch + batch / num_batches)
        elif self.per_epoch is not None:
            part = batch * self.per_epoch // num_batches          # checkpoints reached so far
            if part > (batch - 1) * self.per_epoch // num_batches:
                self._take(record.epoch + part / self.per_epoch)

    def epoch_end(self, history):
        """Called by `fit` after every epoch and its evaluation."""
        if self._steps is None and self.every is None and self.per_epoch is None and (
                self._epochs is None or history.epochs in self._epochs):
            self._take(float(history.epochs))


def _numbered(name, numbers, first):
    """A set of whole numbers >= first, or None; a clear error otherwise."""
    if numbers is None:
        return None
    numbers = list(numbers)
    if not numbers or any(isinstance(n, bool) or not isinstance(n, int) or n < first
                          for n in numbers):
        raise ValueError(f"Snapshots: {name} must be whole numbers from {first}; "
                         f"got {numbers!r}")
    return set(numbers)
