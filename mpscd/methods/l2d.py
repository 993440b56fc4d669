"""L2D (Yang et al., ICCV 2023, "Multi-Label Knowledge Distillation"), as its official code
(penghui-yang/L2D) computes it: MLD plus class-aware and instance-aware distance structure
of the label-wise embeddings."""
import torch
import torch.nn.functional as F

from mpscd.engine.checks import NON_NEGATIVE
from mpscd.methods.base import Distiller
from mpscd.methods.logit import mld_loss
from mpscd.methods.registry import register


def _structure_distances(e):
    """Euclidean distances within each group of e [G, N, D] -> [G, N, N], computed as L2D's
    official code does (squared-norm expansion clamped at 1e-12 before the root, so that
    coincident points keep a finite gradient)."""
    sq = e.pow(2).sum(-1)
    return (sq[:, :, None] + sq[:, None, :] - 2 * e @ e.transpose(1, 2)).clamp_min(1e-12).sqrt()


def _group_structure_loss(e_s, e_t, members):
    """L2D's Huber distance-structure loss, summed over groups (official `HuberDist` per
    group, added up over groups). e_s [G, N, Ds], e_t [G, N, Dt]; members [G, N] bool.
    For a group of n >= 2 members: distances between distinct members, each side divided by
    its own mean distance, Huber loss summed over the n x n pairs and divided by n. Groups
    with fewer than two members contribute 0. Dense over [G, N, N]: no loop, no gather."""
    n = members.sum(1).float()
    pairs = members[:, :, None] & members[:, None, :]
    pairs &= ~torch.eye(members.shape[1], dtype=torch.bool, device=members.device)

    def normalised(e):
        d = _structure_distances(e.float()) * pairs
        mean = d.sum((1, 2)) / pairs.sum((1, 2)).clamp_min(1)
        return d / mean.clamp_min(1e-12)[:, None, None]

    huber = F.smooth_l1_loss(normalised(e_s), normalised(e_t), reduction="none") * pairs
    return (huber.sum((1, 2)) / n.clamp_min(1)).sum()


def l2d_structure_losses(s, t, labels):
    """L2D's label-wise embedding distillation (Yang et al., ICCV 2023, "Multi-Label Knowledge
    Distillation"; official code penghui-yang/L2D, criterion/distiller_zoo/le_based): the
    class-aware term (CD; per class, the distance structure of the raw embeddings of the
    images where it is present) and the instance-aware term (ID; per image, that of its
    present labels), each summed over its groups. s [B, C, Ds], t [B, C, Dt] raw label-wise
    embeddings; returns (CD, ID)."""
    present = labels == 1
    class_aware = _group_structure_loss(s.transpose(0, 1), t.transpose(0, 1), present.t())
    return class_aware, _group_structure_loss(s, t, present)


@register("l2d")
class L2D(Distiller):
    """L2D (Yang et al., ICCV 2023, "Multi-Label Knowledge Distillation"): MLD plus
    class-aware (CD) and instance-aware (ID) label-wise embedding structure distillation.

    Default weights are the official config's (penghui-yang/L2D: logits 10, CD 100,
    ID 1000). Its BCE is summed over the batch, ours is averaged over images, so the
    weights are applied divided by the batch size: the loss is the official one divided
    by B, with the same balance between BCE and every distillation term."""

    needs_teacher = True

    def __init__(self, student, teacher, lambda_mld: NON_NEGATIVE = 10.0, lambda_cd: NON_NEGATIVE = 100.0,
                 lambda_id: NON_NEGATIVE = 1000.0):
        super().__init__(student, teacher)
        self.lambdas = {"mld": lambda_mld, "cd": lambda_cd, "id": lambda_id}

    def distillation_terms(self, s, t, targets):
        class_aware, instance_aware = l2d_structure_losses(s["embeddings"], t["embeddings"], targets)
        values = {"mld": mld_loss(s["logits"], t["logits"]), "cd": class_aware, "id": instance_aware}
        return {k: self.lambdas[k] / len(targets) * v for k, v in values.items()}
