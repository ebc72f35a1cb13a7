"""companion.muon: Muon's step against torch.optim.Muon, orthogonalize, the SGD groups, errors."""
import pytest
import torch
from torch import nn

from companion.learning import SGD
from companion.muon import Muon, muon_groups, orthogonalize
from companion.mnist import speedrun_net


def test_orthogonalize_keeps_the_singular_vectors_and_brings_the_values_near_one():
    torch.manual_seed(0)
    for rows, cols in [(16, 36), (64, 32), (96, 432)]:
        n = min(rows, cols)
        U, _ = torch.linalg.qr(torch.randn(rows, n))         # orthonormal columns
        V, _ = torch.linalg.qr(torch.randn(cols, n))
        G = U @ torch.diag(torch.logspace(0, 2, n)) @ V.T     # singular values 1..100
        O = orthogonalize(G)
        D = U.T @ O @ V                                       # diagonal if the vectors are kept
        assert (D - torch.diag(torch.diagonal(D))).abs().max() < 1e-3
        values = torch.linalg.svdvals(O)
        assert values.min() > 0.65 and values.max() < 1.25, values


def test_orthogonalize_rejects_a_non_matrix():
    with pytest.raises(ValueError, match=r"expects a matrix \(rows, cols\); got shape \(3, 4, 5\)"):
        orthogonalize(torch.randn(3, 4, 5))


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="torch.optim.Muon: PyTorch 2.9+")
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_on_matrices_equals_torch_optim_muon(nesterov):
    torch.manual_seed(0)
    ours, theirs = nn.Linear(12, 20, bias=False), nn.Linear(12, 20, bias=False)
    theirs.load_state_dict(ours.state_dict())
    settings = dict(lr=0.05, momentum=0.9, nesterov=nesterov, weight_decay=0.1)
    opt_ours = Muon(ours.parameters(), ns_dtype=torch.bfloat16, **settings)  # torch's arithmetic
    opt_theirs = torch.optim.Muon(theirs.parameters(), **settings)
    plain = nn.Linear(12, 20, bias=False)           # the same steps without orthogonalizing
    plain.load_state_dict(ours.state_dict())
    opt_plain = torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9, nesterov=nesterov)
    for step in range(5):
        X = torch.randn(32, 12)
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs), (plain, opt_plain)):
            opt.zero_grad()
            model(X).pow(2).mean().backward()
            opt.step()
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=1e-6)
    assert (ours.weight - plain.weight).abs().max() > 1e-2       # the test can tell


def test_muon_reads_a_filter_bank_as_out_by_the_rest():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, bias=False)
    flat = nn.Linear(27, 8, bias=False)
    flat.weight.data.copy_(conv.weight.detach().reshape(8, 27))
    opts = [Muon(m.parameters(), lr=0.02) for m in (conv, flat)]
    g = torch.randn(8, 3, 3, 3)
    for m, opt, grad in zip((conv, flat), opts, (g, g.reshape(8, 27))):
        m.weight.grad = grad.clone()
        opt.step()
    torch.testing.assert_close(conv.weight.reshape(8, 27), flat.weight)


def test_muon_steps_a_channels_last_filter_bank_as_a_contiguous_one():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, bias=False)
    nhwc = nn.Conv2d(4, 6, 3, bias=False).to(memory_format=torch.channels_last)
    nhwc.load_state_dict(conv.state_dict())
    g = torch.randn(6, 4, 3, 3)
    for m in (conv, nhwc):
        opt = Muon(m.parameters(), lr=0.05)
        for step in range(3):
            m.weight.grad = (g * (step + 1)).contiguous(
                memory_format=torch.channels_last if m is nhwc else torch.contiguous_format)
            opt.step()
    assert nhwc.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(nhwc.weight, conv.weight)


def test_the_sgd_groups_equal_the_books_sgd():
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    opt_a = Muon(a.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, orthogonalize=False)
    opt_b = SGD(b.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    for step in range(4):
        X = torch.randn(16, 5)
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            model(X).pow(2).mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_muon_groups_split_the_hidden_weights_from_the_rest():
    net = speedrun_net()
    hidden, rest = muon_groups(net, lr=0.1, other_lr=0.4, weight_decay=5e-4)
    convs = [m.weight for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [id(p) for p in hidden["params"]] == [id(p) for p in convs]
    head = net[-1]
    assert any(p is head.weight for p in rest["params"]) and not rest["orthogonalize"]
    assert len(hidden["params"]) + len(rest["params"]) == len(list(net.parameters()))
    assert (hidden["lr"], rest["lr"], rest["weight_decay"]) == (0.1, 0.4, 5e-4)
    assert repr(Muon([hidden, rest], lr=0.1, momentum=0.9)) == (
        "Muon(muon: 3 tensors, lr=0.1, momentum=0.9; sgd: 8 tensors, lr=0.4, momentum=0.9)")


def test_muon_errors_say_what_was_wrong():
    with pytest.raises(ValueError, match="orthogonalize needs weights of 2 or more dims.*"
                                         r"\(3,\).*muon_groups"):
        Muon(nn.Linear(4, 3).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        Muon(nn.Linear(4, 3, bias=False).parameters(), lr=0)
    with pytest.raises(ValueError, match="other_lr must be a number > 0; got 0"):
        muon_groups(speedrun_net(), lr=0.1, other_lr=0)
    with pytest.raises(ValueError, match="no weights of 2 or more dims before its output"):
        muon_groups(nn.Sequential(nn.Linear(4, 3)), lr=0.1, other_lr=0.1)
