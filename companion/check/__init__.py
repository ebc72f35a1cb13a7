"""Exercises that check themselves: `check.<exercise>(your_answer)` runs your answer against the
reference and says what is right and, if something is wrong, gives a hint (never the answer).

An answer still left as a stub (`raise NotImplementedError`, `...` or `None`) is reported as
"not done yet", so the executed book shows the exercises without failing the build. Each check
returns a `Result` (`.passed`, `.status`, `.message`) that prints itself.

    from companion import check
    check.sigmoid_derivative(my_sigmoid_derivative)

One module per chapter holds its checks (listed in its `__all__`), each written with `_core`'s
scaffolding (`exercise`, `Hint`, `forbid`, ...); this file imports them by name. A new chapter's
checks: a module, and one import line below.
Used in: the exercises at the end of every chapter.
"""
from ._core import FAILED, MARKS, PASSED, TODO, Hint, Result, close, exercise, expect_tensor
from ._core import forbid, is_stub, patched, run
from .activations import leaky_relu, sigmoid_derivative, tanh_from_sigmoid
from .attention import masked_softmax, scaled_dot_product_attention, split_heads
from .cnn import conv_output_size, corr2d, max_pool
from .intro import count_mlp_params, mlp_forward
from .learning import adam_step, batchnorm_train, stable_cross_entropy, value_sigmoid
from .mnist import confusion_matrix, standardize
from .resnet import basic_block, bottleneck_block, stage_params
from .rnn import clip_gradients, gru_step, lstm_step
from .transformer import block_params, causal_mask, layer_norm, sinusoidal_positions
