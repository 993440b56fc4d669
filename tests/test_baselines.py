"""Baseline losses against plain loops written from their papers' definitions."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from mpscd.methods.feature import pkt_loss, rkd_loss
from mpscd.methods.l2d import l2d_structure_losses
from mpscd.methods.logit import kd_loss
from test_losses import LABEL_CASES, positive_list


def huber(a, b):
    d = abs(a - b)
    return 0.5 * d * d if d < 1 else d - 0.5


def ref_kd(zs, zt, T):
    total = 0.0
    for i, c in itertools.product(range(zs.shape[0]), range(zs.shape[1])):
        p, q = torch.sigmoid(zt[i, c].double() / T).item(), torch.sigmoid(zs[i, c].double() / T).item()
        total += p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    return T * T * total / zs.shape[0]


def ref_normalised_distances(x, items):
    d = {(a, b): (x[a] - x[b]).norm().item() for a in items for b in items if a != b}
    mean = sum(d.values()) / len(d)
    return {k: v / mean for k, v in d.items()}


def ref_rkd(s, t, wd=25.0, wa=50.0):
    n = s.shape[0]
    ds, dt = ref_normalised_distances(s.double(), range(n)), ref_normalised_distances(t.double(), range(n))
    distance = sum(huber(ds[k], dt[k]) for k in ds) / len(ds)
    if n < 3:
        return wd * distance

    def cos(x, i, j, k):
        u, v = x[i] - x[j], x[k] - x[j]
        if u.norm() == 0 or v.norm() == 0:
            return 0.0
        return (u @ v / (u.norm() * v.norm())).item()
    angles = [huber(cos(s.double(), i, j, k), cos(t.double(), i, j, k)) for i, j, k in itertools.product(range(n), repeat=3)]
    return wd * distance + wa * sum(angles) / len(angles)


def ref_pkt(s, t, eps=1e-7):
    def conditional(x):
        x = F.normalize(x.double(), dim=1)
        k = [[(x[i] @ x[j]).item() / 2 + 0.5 for j in range(len(x))] for i in range(len(x))]
        return [[v / sum(row) for v in row] for row in k]
    ps, pt = conditional(s), conditional(t)
    n = len(ps)
    return sum(pt[i][j] * math.log((pt[i][j] + eps) / (ps[i][j] + eps)) for i in range(n) for j in range(n)) / n


def ref_l2d_term(s, t, labels, key):
    """The official L2D code's CD (key 1: groups are classes) or ID (key 0: groups are
    images), written as its loop: per group of n >= 2 positives, the Huber loss summed over
    the n x n matrix of mean-normalised distances (zero diagonal), divided by n; summed
    over groups."""
    groups = {}
    for a in positive_list(labels):
        groups.setdefault(a[key], []).append(a)
    total = 0.0
    for items in groups.values():
        if len(items) < 2:
            continue
        ds = ref_normalised_distances({a: s[a].double() for a in items}, items)
        dt = ref_normalised_distances({a: t[a].double() for a in items}, items)
        total += sum(huber(ds[k], dt[k]) for k in ds) / len(items)
    return total


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_kd(T):
    torch.manual_seed(0)
    zs, zt = torch.randn(5, 7, requires_grad=True), torch.randn(5, 7)
    loss = kd_loss(zs, zt, T)
    assert loss.item() == pytest.approx(ref_kd(zs.detach(), zt, T), rel=1e-5)
    loss.backward()
    assert torch.isfinite(zs.grad).all()


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_rkd_and_pkt(batch):
    torch.manual_seed(batch)
    s, t = torch.randn(batch, 6, requires_grad=True), torch.randn(batch, 9)
    rkd = rkd_loss(s, t)
    assert rkd.item() == pytest.approx(ref_rkd(s.detach(), t) if batch > 1 else 0.0, rel=1e-4, abs=1e-6)
    assert pkt_loss(s, t).item() == pytest.approx(ref_pkt(s.detach(), t), rel=1e-4, abs=1e-7)
    (rkd + pkt_loss(s, t)).backward()
    assert torch.isfinite(s.grad).all()


L2D_SHAPES = {"VOC-like batch": lambda: (torch.rand(16, 20) < 0.1).float(),
              "COCO-like batch": lambda: (torch.rand(12, 80) < 0.04).float()}


@pytest.mark.parametrize("name", list(LABEL_CASES) + list(L2D_SHAPES))
def test_l2d_structure_terms_equal_the_official_loop(name):
    torch.manual_seed(3)
    labels = {**LABEL_CASES, **L2D_SHAPES}[name]()
    s = torch.randn(*labels.shape, 8, requires_grad=True)
    t = torch.randn(*labels.shape, 12)
    class_aware, instance_aware = l2d_structure_losses(s, t, labels)
    assert class_aware.item() == pytest.approx(ref_l2d_term(s.detach(), t, labels, 1), rel=1e-4, abs=1e-6)
    assert instance_aware.item() == pytest.approx(ref_l2d_term(s.detach(), t, labels, 0), rel=1e-4, abs=1e-6)
    (class_aware + instance_aware).backward()
    assert torch.isfinite(s.grad).all()


def test_l2d_structure_terms_are_sums_over_groups():
    """Two classes with the same structure give twice the loss of one (official: summed,
    not averaged, over groups), and coincident embeddings keep a finite gradient."""
    torch.manual_seed(0)
    s, t = torch.randn(4, 1, 8), torch.randn(4, 1, 8)
    one, _ = l2d_structure_losses(s, t, torch.ones(4, 1))
    two, _ = l2d_structure_losses(s.repeat(1, 2, 1), t.repeat(1, 2, 1), torch.ones(4, 2))
    assert two.item() == pytest.approx(2 * one.item(), rel=1e-5)
    same = torch.zeros(3, 2, 4, requires_grad=True)
    sum(l2d_structure_losses(same, torch.randn(3, 2, 4), torch.ones(3, 2))).backward()
    assert torch.isfinite(same.grad).all()


MPSCD_FORMS = {"mpscd_relations": {"s2s_relations": "class_residual", "s2p_relations": "images", "lambda_mld": 1.0}}


@pytest.mark.parametrize("name", ["mld", "kd", "l2d", "rkd", "pkt", "mpscd", *MPSCD_FORMS])
def test_every_distiller_trains_only_the_student_side(name):
    from models import build_model
    from mpscd.methods import build_distiller
    torch.manual_seed(0)
    spec = {"type": name.split("_")[0], **MPSCD_FORMS.get(name, {}),
            **({"prototype_init": "first_batch"} if name.startswith("mpscd") else {})}
    distiller = build_distiller(spec, build_model("resnet18", 4, embed_dim=16), build_model("resnet18", 4, embed_dim=24))
    distiller.train()
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 1]])
    terms = distiller.forward_train(torch.randn(3, 3, 32, 32), labels)
    assert len(terms) >= 2 and all(torch.isfinite(v) for v in terms.values())
    sum(terms.values()).backward()
    assert all(p.grad is None for p in distiller.teacher.parameters())
    assert distiller.student.backbone.body[0].weight.grad.abs().sum() > 0
