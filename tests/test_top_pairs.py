"""The MPSCD terms on each image's k highest-labelled pairs equal the terms on all B x C pairs."""
import pytest
import torch

from mpscd.methods.mpscd import terms
from mpscd.methods.mpscd.terms import pcrd_loss, s2p_loss, s2s_loss
from test_losses import LABEL_CASES, TAU


def wide_labels():
    """12 classes, at most 3 positives per image (C > k^2: S2S within a class on pairs), ignored labels."""
    g = torch.Generator().manual_seed(4)
    labels = torch.zeros(8, 12)
    for row in labels:
        row[torch.randperm(12, generator=g)[:torch.randint(4, (), generator=g)]] = 1
    labels[1, 5], labels[6, 0] = -1, -1
    return labels


def pcrd_on_pairs(x, labels, k, keys):
    classes = terms.top_pairs(labels, k)
    return pcrd_loss(terms.pick(x["u"], classes), terms.pick(x["v"], classes), labels, TAU, keys, classes)


RESTRICTABLE = {
    "pcrd instance": lambda x, labels, k: pcrd_on_pairs(x, labels, k, "instance"),
    "pcrd class": lambda x, labels, k: pcrd_on_pairs(x, labels, k, "class"),
    "s2s": lambda x, labels, k: s2s_loss(x["s"], x["t"], labels, TAU, max_positives=k),
    "s2s within class": lambda x, labels, k: s2s_loss(terms.unit(x["s"]) - terms.unit(x["ps"]),
                                                      terms.unit(x["t"]) - terms.unit(x["pt"]), labels, TAU,
                                                      within_class=True, max_positives=k),
    "supcon": lambda x, labels, k: terms.supcon_loss(x["s"], labels, max_positives=k),
    "s2p": lambda x, labels, k: s2p_loss(x["s"], x["t"], x["ps"], x["pt"], labels, TAU, max_positives=k),
    "s2p negatives": lambda x, labels, k: s2p_loss(x["s"], x["t"], x["ps"], x["pt"], labels, TAU, negatives=True,
                                                   max_positives=k),
}


@pytest.mark.parametrize("labels", [LABEL_CASES["random"](), LABEL_CASES["ignored labels"](), wide_labels()],
                         ids=["random", "ignored labels", "wide"])
@pytest.mark.parametrize("term", list(RESTRICTABLE))
def test_terms_on_each_images_highest_labels_equal_all_pairs(term, labels):
    """max_positives = k, the most positives an image has: the terms on each image's k
    highest-labelled pairs give the loss and gradients of all B x C pairs."""
    k = int((labels == 1).sum(1).max())
    results = []
    for max_positives in (None, k):
        torch.manual_seed(0)
        B, C = labels.shape
        x = dict(u=torch.randn(B, C, 6), v=torch.randn(B, C, 6), s=torch.randn(B, C, 8), t=torch.randn(B, C, 12),
                 ps=torch.randn(C, 8), pt=torch.randn(C, 12))
        for value in x.values():
            value.requires_grad_(True)
        loss = RESTRICTABLE[term](x, labels, max_positives)
        loss.backward()
        results.append([loss] + [value.grad if value.grad is not None else torch.zeros(()) for value in x.values()])
    for all_pairs, top_k in zip(*results):
        assert torch.allclose(all_pairs, top_k, rtol=1e-5, atol=1e-6)  # float32 sums in another order


def test_similarity_matrix_backward():
    """S2S's similarity matrix z z^T / tau has its own backward (one matrix product)."""
    z = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: terms._gram(z, 0.3), (z,))
