"""The shared probes: gradient norms per part, evaluating(), the tracer and its multiply-adds."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from companion import hardware
from companion.measure import evaluating, grad_norms
from companion.summary import multiply_adds, summary, trace


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))


def test_grad_norms_of_layers_equal_backward_and_leave_grads_alone():
    model = mlp()
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    layers = [model[0], model[2], model[4]]
    norms = grad_norms(nn.functional.cross_entropy(model(X), y), layers)
    assert all(p.grad is None for p in model.parameters())
    nn.functional.cross_entropy(model(X), y).backward()
    expected = [torch.cat([p.grad.flatten() for p in layer.parameters()]).norm()
                for layer in layers]
    assert torch.allclose(norms, torch.stack(expected), rtol=1e-6)
    weights_only = grad_norms(nn.functional.cross_entropy(model(X), y), [model[0].weight])
    assert torch.allclose(weights_only, model[0].weight.grad.norm().reshape(1), rtol=1e-6)


def test_grad_norms_of_hidden_states_over_time():
    torch.manual_seed(0)
    cell = nn.RNNCell(3, 5)
    h, states = torch.zeros(2, 5), []
    for x in torch.randn(6, 2, 3):        # (steps, batch, features)
        h = cell(x, h)
        states.append(h)
    norms = grad_norms(h.pow(2).sum(), states, retain_graph=True)
    assert norms.shape == (6,) and norms[-1] == pytest.approx((2 * h).norm().item(), rel=1e-6)
    unused = grad_norms(states[2].sum(), states)
    assert torch.all(unused[3:] == 0) and unused[2] > 0  # later states do not affect it


def test_grad_norms_rejects_bad_input():
    model = mlp()
    out = model(torch.randn(2, 4))
    with pytest.raises(ValueError, match="scalar loss"):
        grad_norms(out, [model[0]])
    with pytest.raises(ValueError, match="no trainable parameters"):
        grad_norms(out.sum(), [model[1]])
    with pytest.raises(ValueError, match="must be a tensor"):
        grad_norms(out.sum(), ["layer 0"])


def test_evaluating_switches_off_dropout_and_restores_every_mode_even_on_error():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4)).train()
    model[2].eval()                                           # a frozen part
    with evaluating(model):
        assert not model.training and not torch.is_grad_enabled()
    assert model.training and model[1].training and not model[2].training
    with pytest.raises(RuntimeError):
        with evaluating(model):
            raise RuntimeError("boom")
    assert model.training and torch.is_grad_enabled()


def conv_net():
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Conv2d(8, 8, 3, groups=2, stride=2), nn.ReLU())
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    return nn.Sequential(features, head)


@pytest.mark.parametrize("shape", [(1, 3, 16, 16), (4, 3, 20, 12)])
def test_multiply_adds_agree_with_pytorchs_flop_counter(shape):
    model = conv_net().eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(shape))
    assert 2 * multiply_adds(model, shape) == counter.get_total_flops()


def test_trace_records_chosen_modules_with_the_cost_inside_them():
    model = conv_net()
    parts = [("features", model[0]), ("head", model[1])]
    rows = trace(model, (1, 3, 16, 16), modules=parts)
    assert [r.name for r in rows] == ["features", "head"]
    assert rows[0].shape == (1, 8, 7, 7) and rows[1].shape == (1, 5)
    assert rows[0].params == sum(p.numel() for p in model[0].parameters())
    assert sum(r.macs for r in rows) == multiply_adds(model, (1, 3, 16, 16))
    with pytest.raises(ValueError, match="never ran"):
        trace(model, (1, 3, 16, 16), modules=[("stray", nn.Linear(2, 2))])


def test_summary_names_the_layer_where_the_input_stops_fitting():
    with pytest.raises(ValueError, match=r"does not fit.*after layer '0.2'"):
        summary(conv_net(), (1, 3, 2, 2))
    text = repr(summary(conv_net(), (1, 3, 16, 16)))
    assert "mult-adds" in text and "multiply-adds per forward pass" in text


def test_hardware_settings_resolve():
    assert hardware.resolve(True, "cpu", hardware.fast_amp) is True
    assert hardware.resolve("auto", "cpu", lambda device: "decided") == "decided"
    with pytest.raises(ValueError, match="True, False or 'auto'"):
        hardware.resolve("yes", "cpu", hardware.fast_amp)
    with pytest.raises(ValueError, match="^amp must be True, False or 'auto'; got 'yes'"):
        hardware.resolve("yes", "cpu", hardware.fast_amp, "amp")
    assert hardware.resolve(False, "cpu", lambda device: True) is False


@pytest.mark.parametrize("native", [True, False])
def test_the_cpu_description_says_what_the_hardware_has(monkeypatch, native):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    text = hardware.describe_cpu()
    assert text.endswith(", native bfloat16" if native else ", no native bfloat16")
    assert torch.backends.cpu.get_cpu_capability() in text
    assert hardware.fast_amp("cpu") is native          # amp="auto" follows the same check


@pytest.mark.parametrize("capability", ["AVX2", "DEFAULT", "AVX512"])
def test_native_bf16_needs_pytorchs_avx512_kernels(monkeypatch, capability):
    # a CPU with AVX-512 BF16 runs bfloat16 natively only where PyTorch dispatches its AVX-512
    # kernels (ATEN_CPU_CAPABILITY=avx2 makes it emulate bfloat16 on the same CPU)
    monkeypatch.setattr(hardware, "_cpu_has", lambda feature: feature == "avx512_bf16")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    assert hardware.cpu_has_native_bf16() is (capability == "AVX512")
    assert hardware.fast_amp("cpu") is (capability == "AVX512")


def test_repeated_blocks_fold_into_one_row():
    from companion.summary import collapse

    blocks = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.ReLU()) for _ in range(25)])
    model = nn.Sequential(nn.Linear(4, 8), blocks, nn.Linear(8, 2))
    rows = collapse(trace(model, (1, 4)))
    names = [r.name for r in rows]
    assert names == ["0", "1.0–24 (×25)", "2"]
    assert rows[1].kind == "Linear→ReLU" and rows[1].params == 25 * 72
    assert sum(r.macs for r in rows) == multiply_adds(model, (1, 4))
    different = nn.Sequential(nn.Sequential(nn.Linear(8, 8)), nn.Sequential(nn.Linear(8, 4)))
    assert len(collapse(trace(different, (1, 8)))) == 2      # different blocks stay apart


def test_grad_norms_keep_float64_precision():
    x = torch.tensor([1e-25, 2e-25], dtype=torch.float64, requires_grad=True)
    norms = grad_norms((x * x.detach()).sum(), [x])   # the gradient is x itself
    assert norms.dtype == torch.float64
    assert norms.item() == pytest.approx(5 ** 0.5 * 1e-25, rel=1e-12)
