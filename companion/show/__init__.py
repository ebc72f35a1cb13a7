"""What the chapters show: each chapter's explorers, films and result figures, one module per
chapter concept, beside the concept module it pictures (`show.cnn` beside `cnn`).

- `learning`: the optimizers' paths on Rosenbrock's valley, `run_explorer`, `confidence_explorer`
- `activations`: `vanishing_explorer`, `gradient_bars`, `boundary_explorer`
- `cnn`: `conv_explorer`, `kernel_film`, `draw_feature_maps`
- `resnet`: `plot_sweep`, `block_bars`, `film_explorer`
- `rnn`: `plot_checks`, `adding_playground`
- `attention`: `softmax_explorer`; `seq2seq`: `heatmap_explorer`, `snapshot_explorer`,
  `heatmap_result`
- `mnist`: `show_confusion`

A concept module holds what its chapter builds and MEASURES (models, probes such as
`resnet.block_grad_norms`, recordings such as `cnn.KernelSnapshots`); what only puts that on the
screen lives here, so the concept modules need neither matplotlib nor `Explorer`. Book-wide
figure tools are in `companion.plots`, the drawings of networks in `companion.diagrams`.
Import a module by name: `from companion.show.cnn import conv_explorer`.
Used in: the chapters 01-06 and 08; their tests.
"""
