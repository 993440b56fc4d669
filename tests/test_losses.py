"""Each MPSCD term against a plain loop written from its definition (docs/method.md)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mpscd.methods.base import bce_loss
from mpscd.methods.logit import mld_loss
from mpscd.methods.mpscd import terms
from mpscd.methods.mpscd.terms import pcrd_loss, s2p_loss, s2p_over_images, s2s_loss

TAU = 0.1


def unit(x):
    return F.normalize(x.detach().double(), dim=-1)


def positive_list(labels):
    return [(i, c) for i in range(labels.shape[0]) for c in range(labels.shape[1]) if labels[i, c] == 1]


def ref_pcrd(u, v, labels, tau=TAU, positives="instance"):
    A = positive_list(labels)
    if not A:
        return 0.0
    total = 0.0
    for a in A:
        ua = unit(u[a])
        logits = [float(ua @ unit(v[b])) / tau for b in A]
        log_denominator = math.log(sum(math.exp(x) for x in logits))
        pos = [j for j, b in enumerate(A) if (b == a if positives == "instance" else b[1] == a[1])]
        total += -sum(logits[j] - log_denominator for j in pos) / len(pos)
    return total / len(A)


def kl(p_logits, q_logits):
    p = torch.softmax(torch.tensor(p_logits, dtype=torch.float64), 0)
    q = torch.softmax(torch.tensor(q_logits, dtype=torch.float64), 0)
    return float((p * (p.log() - q.log())).sum())


def ref_s2s(s, t, labels, tau=TAU):
    A = positive_list(labels)
    rows = []
    for a in A:
        others = [b for b in A if b[0] != a[0]]
        if others:
            rows.append(kl([float(unit(t[a]) @ unit(t[b])) / tau for b in others],
                           [float(unit(s[a]) @ unit(s[b])) / tau for b in others]))
    return sum(rows) / len(rows) if rows else 0.0


def ref_s2p(s, t, ps, pt, labels, tau=TAU, negatives=False):
    anchors = [(i, c) for i in range(labels.shape[0]) for c in range(labels.shape[1])
               if labels[i, c] == 1 or (negatives and labels[i, c] == 0)]
    rows = [kl([float(unit(t[a]) @ unit(pt[c])) / tau for c in range(pt.shape[0])],
               [float(unit(s[a]) @ unit(ps[c])) / tau for c in range(ps.shape[0])]) for a in anchors]
    return sum(rows) / len(rows) if rows else 0.0


def ref_s2s_class_residual(s, t, ps, pt, labels, tau=TAU):
    """S2S between objects of one class in different images, on unit(unit(e) - P[c])."""
    A = positive_list(labels)
    r_s = {a: unit(unit(s[a]) - unit(ps[a[1]])) for a in A}
    r_t = {a: unit(unit(t[a]) - unit(pt[a[1]])) for a in A}
    rows = []
    for a in A:
        partners = [b for b in A if b[1] == a[1] and b[0] != a[0]]
        if partners:
            rows.append(kl([float(r_t[a] @ r_t[b]) / tau for b in partners],
                           [float(r_s[a] @ r_s[b]) / tau for b in partners]))
    return sum(rows) / len(rows) if rows else 0.0


def ref_s2p_over_images(s, t, ps, pt, labels, tau=TAU, valid=None):
    """Per class c with a valid prototype: softmax over the images with a known label of
    unit(e_ic) . P[c], both centred on the mean valid prototype and re-normalised."""
    C = labels.shape[1]
    valid = [True] * C if valid is None else valid.tolist()
    kept = [c for c in range(C) if valid[c]]

    def sim(e, p, i, c):
        centre = sum(unit(p[k]) for k in kept) / len(kept)
        return float(unit(unit(e[i, c]) - centre) @ unit(unit(p[c]) - centre)) / tau
    rows = []
    for c in kept:
        images = [i for i in range(labels.shape[0]) if labels[i, c] >= 0]
        if images:
            rows.append(kl([sim(t, pt, i, c) for i in images], [sim(s, ps, i, c) for i in images]))
    return sum(rows) / len(rows) if rows else 0.0


def ref_mld(zs, zt):
    total = 0.0
    for i in range(zs.shape[0]):
        for c in range(zs.shape[1]):
            p, q = torch.sigmoid(zt[i, c].detach().double()), torch.sigmoid(zs[i, c].detach().double())
            total += float(p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log())
    return total / zs.shape[0]


LABEL_CASES = {
    "random": lambda: (torch.rand(5, 4) < 0.4).float(),
    "no positives": lambda: torch.zeros(5, 4),
    "one positive": lambda: torch.zeros(5, 4).index_put_((torch.tensor([2]), torch.tensor([1])), torch.tensor(1.0)),
    "single image": lambda: torch.tensor([[1.0, 0, 1, 1]]),
    "all positive": lambda: torch.ones(3, 4),
    "class with one positive": lambda: torch.tensor([[1.0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0.]]),
    "ignored labels": lambda: torch.tensor([[1.0, -1, 0, 1], [0, 1, -1, 0], [1, 0, 0, 1.]]),
}


@pytest.fixture(params=list(LABEL_CASES))
def case(request):
    torch.manual_seed(hash(request.param) % 1000)
    labels = LABEL_CASES[request.param]()
    B, C = labels.shape
    tensors = dict(u=torch.randn(B, C, 6), v=torch.randn(B, C, 6), s=torch.randn(B, C, 8), t=torch.randn(B, C, 12),
                   ps=torch.randn(C, 8), pt=torch.randn(C, 12), zs=torch.randn(B, C), zt=torch.randn(B, C))
    for x in tensors.values():
        x.requires_grad_(True)
    return labels, tensors


def check(loss, reference, *inputs):
    assert loss.dtype == torch.float32 and loss.ndim == 0 and torch.isfinite(loss)
    assert loss.item() == pytest.approx(reference, rel=1e-4, abs=1e-5)
    assert loss.requires_grad  # in the graph even when it is zero
    loss.backward()
    assert all(torch.isfinite(x.grad).all() for x in inputs)


@pytest.mark.parametrize("positive_keys", ["instance", "class"])
def test_pcrd(case, positive_keys):
    labels, x = case
    check(pcrd_loss(x["u"], x["v"], labels, TAU, positive_keys), ref_pcrd(x["u"], x["v"], labels, TAU, positive_keys),
          x["u"], x["v"])


def test_s2s(case):
    labels, x = case
    check(s2s_loss(x["s"], x["t"], labels, TAU), ref_s2s(x["s"], x["t"], labels), x["s"], x["t"])


@pytest.mark.parametrize("negatives", [False, True])
def test_s2p(case, negatives):
    labels, x = case
    loss = s2p_loss(x["s"], x["t"], x["ps"], x["pt"], labels, TAU, negatives)
    check(loss, ref_s2p(x["s"], x["t"], x["ps"], x["pt"], labels, TAU, negatives), x["s"], x["t"])


def test_s2s_on_one_class_residuals(case):
    labels, x = case
    residual = lambda e, p: terms.unit(e) - terms.unit(p)
    loss = s2s_loss(residual(x["s"], x["ps"]), residual(x["t"], x["pt"]), labels, TAU, within_class=True)
    check(loss, ref_s2s_class_residual(x["s"], x["t"], x["ps"], x["pt"], labels), x["s"], x["t"])


@pytest.mark.parametrize("on_k_pairs", [False, True])
def test_s2s_on_one_class_residuals_from_the_prototypes(case, on_k_pairs):
    """As the distiller calls it: the residuals made inside, on all pairs or each image's k."""
    labels, x = case
    k = int((labels == 1).sum(1).max()) if on_k_pairs else None
    loss = s2s_loss(x["s"], x["t"], labels, TAU, True, k, terms.unit(x["ps"]), terms.unit(x["pt"]))
    check(loss, ref_s2s_class_residual(x["s"], x["t"], x["ps"], x["pt"], labels), x["s"], x["t"])


@pytest.mark.parametrize("with_invalid", [False, True])
def test_s2p_over_images(case, with_invalid):
    labels, x = case
    valid = torch.arange(labels.shape[1]) % 2 == 0 if with_invalid else None
    loss = s2p_over_images(x["s"], x["t"], terms.unit(x["ps"]), terms.unit(x["pt"]), labels, TAU, valid)
    check(loss, ref_s2p_over_images(x["s"], x["t"], x["ps"], x["pt"], labels, TAU, valid), x["s"], x["t"])


def test_mld_and_bce(case):
    labels, x = case
    check(mld_loss(x["zs"], x["zt"]), ref_mld(x["zs"], x["zt"]), x["zs"])
    ref = sum(-(math.log(torch.sigmoid(z).item()) if y == 1 else math.log(1 - torch.sigmoid(z).item()))
              for z, y in zip(x["zs"].detach().flatten(), labels.flatten()) if y >= 0) / labels.shape[0]
    assert bce_loss(x["zs"], labels).item() == pytest.approx(ref, rel=1e-5)


def test_single_positive_pcrd_is_zero():
    labels = torch.zeros(3, 4)
    labels[1, 2] = 1
    assert pcrd_loss(torch.randn(3, 4, 5), torch.randn(3, 4, 5), labels).item() == pytest.approx(0.0, abs=1e-7)


def test_s2p_leaves_out_uninitialised_prototypes():
    torch.manual_seed(0)
    labels = (torch.rand(4, 5) < 0.5).float()
    labels[0, 0] = 1
    s, t, ps, pt = torch.randn(4, 5, 8), torch.randn(4, 5, 8), torch.randn(5, 8), torch.randn(5, 8)
    valid = torch.tensor([True, True, False, True, False])
    ref = ref_s2p(s, t, ps[valid], pt[valid], labels)
    assert s2p_loss(s, t, ps, pt, labels, proto_valid=valid).item() == pytest.approx(ref, rel=1e-4)


def test_identical_teacher_and_student_give_zero_and_rotation_invariance():
    torch.manual_seed(1)
    labels = (torch.rand(6, 5) < 0.5).float()
    e, p = torch.randn(6, 5, 16), torch.randn(5, 16)
    assert s2s_loss(e, e, labels).item() == pytest.approx(0, abs=1e-6)
    assert s2p_loss(e, e, p, p, labels).item() == pytest.approx(0, abs=1e-6)
    t, pt, s, ps = torch.randn(6, 5, 12), torch.randn(5, 12), torch.randn(6, 5, 16), torch.randn(5, 16)
    q, _ = torch.linalg.qr(torch.randn(16, 16))
    assert s2s_loss(s @ q, t, labels).item() == pytest.approx(s2s_loss(s, t, labels).item(), rel=1e-4)
    assert s2p_loss(s @ q, t, ps @ q, pt, labels).item() == pytest.approx(s2p_loss(s, t, ps, pt, labels).item(), rel=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_inputs_give_finite_float32(dtype):
    torch.manual_seed(2)
    labels = (torch.rand(8, 6) < 0.4).float()
    s, t = torch.randn(8, 6, 16, dtype=dtype), torch.randn(8, 6, 16, dtype=dtype)
    p = torch.randn(6, 16, dtype=dtype)
    for loss in (pcrd_loss(s, t, labels), s2s_loss(s, t, labels), s2p_loss(s, t, p, p, labels),
                 mld_loss(s[..., 0], t[..., 0])):
        assert loss.dtype == torch.float32 and torch.isfinite(loss)


def ref_supcon(e, labels, tau=0.2):
    """The authors' multi-label supervised contrast, as a loop over positives."""
    A = positive_list(labels)
    rows = []
    for a in A:
        others = [b for b in A if b != a]
        partners = [b for b in others if b[1] == a[1]]
        if partners:
            sim = lambda b: float(unit(e[a]) @ unit(e[b])) / tau
            log_denominator = math.log(sum(math.exp(sim(b)) for b in others))
            rows.append(-sum(sim(p) - log_denominator for p in partners) / len(partners))
    return sum(rows) / len(rows) if rows else 0.0


def ref_prototype_contrast_mse(s, t, ps, pt, labels, tau=0.07, valid=None):
    """Per class c with a positive and a valid prototype: the prototype's contrast of its
    positives against every image with c labelled, squared student-teacher difference."""
    C = labels.shape[1]
    valid = [True] * C if valid is None else valid.tolist()

    def contrast(e, p, c):
        sim = {i: math.exp(float(unit(e[i, c]) @ unit(p[c])) / tau) for i in range(labels.shape[0]) if labels[i, c] >= 0}
        return -math.log(sum(v for i, v in sim.items() if labels[i, c] == 1) / sum(sim.values()))
    rows = [(contrast(s, ps, c) - contrast(t, pt, c)) ** 2 for c in range(C) if valid[c] and (labels[:, c] == 1).any()]
    return sum(rows) / len(rows) if rows else 0.0


def test_supcon(case):
    labels, x = case
    check(terms.supcon_loss(x["s"], labels), ref_supcon(x["s"], labels), x["s"])


@pytest.mark.parametrize("with_invalid", [False, True])
def test_prototype_contrast_mse(case, with_invalid):
    labels, x = case
    valid = torch.arange(labels.shape[1]) % 2 == 0 if with_invalid else None
    loss = terms.prototype_contrast_mse(x["s"], x["t"], x["ps"], x["pt"], labels, proto_valid=valid)
    check(loss, ref_prototype_contrast_mse(x["s"], x["t"], x["ps"], x["pt"], labels, valid=valid), x["s"], x["t"])


def test_norm_backward():
    """The S2P terms' norms over images have their own backward (one pass over x)."""
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(terms._norm, (x,))
    zero = torch.zeros(2, 3, requires_grad=True)
    terms._norm(zero).sum().backward()
    assert torch.equal(zero.grad, torch.zeros(2, 3))  # clamped: no gradient, as norm().clamp_min()'s
