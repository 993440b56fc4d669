"""Relation-based distillation on the pooled feature: RKD and PKT."""
import torch
import torch.nn.functional as F

from mpscd.engine.checks import NON_NEGATIVE
from mpscd.methods.base import Distiller
from mpscd.methods.registry import register


def _normalised_distances(x):
    """Pairwise Euclidean distances divided by their mean over distinct pairs (RKD's psi_D),
    zero on the diagonal; masked sums, not boolean indexing, which would synchronise."""
    n = x.shape[0]
    off_diagonal = 1.0 - torch.eye(n, dtype=x.dtype, device=x.device)
    d = torch.cdist(x, x) * off_diagonal
    return d / (d.sum() / (n * (n - 1))).clamp_min(1e-12)


def rkd_loss(student_feature, teacher_feature, distance_weight=25.0, angle_weight=50.0):
    """Park et al., CVPR 2019 ("Relational Knowledge Distillation"): Huber loss between the
    teacher's and student's mean-normalised pairwise distances (RKD-D) and between the
    cosines of the angles of every triplet (RKD-A), on the pooled features."""
    s, t = student_feature.float(), teacher_feature.float()
    if s.shape[0] < 2:
        return s.sum() * 0.0
    n = s.shape[0]
    distance = F.smooth_l1_loss(_normalised_distances(s), _normalised_distances(t), reduction="sum") / (n * (n - 1))
    if s.shape[0] < 3:
        return distance_weight * distance
    # angle at anchor j between i and k: <unit(f_i - f_j), unit(f_k - f_j)>, for all i, j, k
    e_s = F.normalize(s[:, None] - s[None], dim=-1)       # [B, B, F]: e[i, j] = unit(f_i - f_j)
    e_t = F.normalize(t[:, None] - t[None], dim=-1)
    angle_s = torch.einsum("ijd,kjd->ijk", e_s, e_s)
    angle_t = torch.einsum("ijd,kjd->ijk", e_t, e_t)
    return distance_weight * distance + angle_weight * F.smooth_l1_loss(angle_s, angle_t)


def pkt_loss(student_feature, teacher_feature, eps=1e-7):
    """Passalis & Tefas, ECCV 2018 ("Learning Deep Representations with Probabilistic
    Knowledge Transfer"): cosine-similarity kernels turned into conditional probabilities
    per row, KL(teacher || student) summed over pairs, averaged over the batch."""
    def conditional(x):
        x = F.normalize(x.float(), dim=1)
        k = (x @ x.t() + 1.0) / 2.0
        return k / k.sum(1, keepdim=True)
    p_s, p_t = conditional(student_feature), conditional(teacher_feature)
    return (p_t * torch.log((p_t + eps) / (p_s + eps))).sum(1).mean()


LOSSES = {"rkd": rkd_loss, "pkt": pkt_loss}


class FeatureKD(Distiller):
    """Relation-based distillation on the pooled feature: RKD (distance + angle) or PKT."""

    needs_teacher = True
    loss_name = None

    def __init__(self, student, teacher, lambda_kd: NON_NEGATIVE = 1.0):
        super().__init__(student, teacher)
        self.lambda_kd = lambda_kd

    def distillation_terms(self, s, t, targets):
        return {self.loss_name: self.lambda_kd * LOSSES[self.loss_name](s["feature"], t["feature"])}


@register("rkd")
class RKD(FeatureKD):
    """Park et al., CVPR 2019: distance (weight 25) and angle (weight 50) relations."""
    loss_name = "rkd"


@register("pkt")
class PKT(FeatureKD):
    """Passalis & Tefas, ECCV 2018: probabilistic knowledge transfer."""
    loss_name = "pkt"
