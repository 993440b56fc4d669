"""Class prototype banks with batch-wise dynamic correction (docs/method.md)."""
import torch
import torch.nn.functional as F
from torch import nn

from utils.distributed import all_reduce_sum


def class_sums(embeddings, labels):
    """Per-class sums of the unit embeddings of positives and their counts:
    embeddings [B, C, D], labels [B, C] -> sums [C, D] float32, counts [C] float32."""
    weight = (labels == 1).float()
    return torch.einsum("bc,bcd->cd", weight, F.normalize(embeddings.float(), dim=-1)), weight.sum(0)


class PrototypeBank(nn.Module):
    """C unit prototypes (buffers, saved in checkpoints) with an "initialised" flag each.

    update(): for each class c with positives in the batch,
        mu_c = normalise(sum of its unit embeddings)
        P[c] = normalise(m * P[c] + (1 - m) * mu_c)   (or mu_c if P[c] is not initialised)
    m = 1.0 keeps initialised prototypes fixed (the "w/o correction" ablation).
    Under torch.distributed the per-class sums and counts are all-reduced first, so
    every rank holds the same prototypes.
    """

    def __init__(self, num_classes, dim, momentum=0.9):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("prototypes", torch.zeros(num_classes, dim))
        self.register_buffer("initialized", torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, embeddings, labels):
        sums, counts = all_reduce_sum(*class_sums(embeddings, labels))
        present = counts > 0
        mean = F.normalize(sums, dim=-1)
        if self.momentum == 1.0:  # exactly fixed (re-normalising would move the last bits)
            corrected = self.prototypes
        else:
            corrected = F.normalize(self.momentum * self.prototypes + (1 - self.momentum) * mean, dim=-1)
        new = torch.where(self.initialized[:, None], corrected, mean)
        self.prototypes.copy_(torch.where(present[:, None], new, self.prototypes))
        self.initialized |= present

    @torch.no_grad()
    def initialize(self, sums, counts):
        """Set P[c] = normalise(sums[c]) for every class with counts[c] > 0 (teacher_pass)."""
        sums, counts = all_reduce_sum(sums, counts)
        present = counts > 0
        self.prototypes.copy_(torch.where(present[:, None], F.normalize(sums, dim=-1), self.prototypes))
        self.initialized |= present
