"""Which fast arithmetic does this machine have? One place decides, for `fit`, the speedrun and
the benchmarks.

bfloat16 autocast halves the cost of a step on a GPU or on a CPU that multiplies bfloat16
natively (AVX-512 BF16 or AMX), but on a CPU that has to emulate it (AVX2 only, like most
laptops) it is about ten times *slower* than float32. The channels-last memory layout helps
convolutions on GPUs and on x86 CPUs with oneDNN, bfloat16 or not. The checks use PyTorch's
own CPU feature detection, which works on Linux, macOS and Windows.

Used in: `companion.training.fit` (amp="auto", channels_last="auto"), the MNIST chapter,
`benchmarks/bench_mnist.py`.
"""
import platform

import torch


def _cpu_has(feature):
    check = getattr(torch.cpu, f"_is_{feature}_supported", None)  # torch >= 2.1
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def cpu_has_native_bf16():
    """True when this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX) and PyTorch
    runs its AVX-512 kernels here: with ATEN_CPU_CAPABILITY=avx2 (or a build without them)
    PyTorch emulates bfloat16 even on such a CPU."""
    if not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return False
    return _cpu_has("avx512_bf16") or _cpu_has("amx_tile")


def fast_amp(device):
    """Is bfloat16 autocast faster than float32 on `device` ("cpu", "cuda", a torch.device)?"""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def fast_channels_last(device):
    """Is the channels-last layout faster for convolutions on `device`?

    Yes on CUDA and on x86 CPUs (oneDNN convolutions prefer NHWC); elsewhere (Arm, MPS) we
    keep PyTorch's default layout, which is never a slow path.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and torch.backends.cpu.get_cpu_capability().startswith("AVX")


def resolve(setting, device, decide, name="setting"):
    """`setting` as a bool: True/False as given, "auto" decided by `decide(device)`.

    `name` is the argument's name, for the error message (`amp`, `channels_last`).
    """
    if isinstance(setting, str) and setting == "auto":
        return decide(device)
    if isinstance(setting, bool):
        return setting
    raise ValueError(f"{name} must be True, False or 'auto'; got {setting!r}")


def describe_cpu():
    """A short description of this CPU's vector units, for benchmark reports."""
    capability = torch.backends.cpu.get_cpu_capability()
    bf16 = "native bfloat16" if cpu_has_native_bf16() else "no native bfloat16"
    return f"{platform.machine()} {capability}, {bf16}"
