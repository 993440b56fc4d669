"""Logit distillation for multi-label outputs: KD (Hinton et al. 2015) on sigmoids and
L2D's MLD (its T = 1 case)."""
import torch
import torch.nn.functional as F

from mpscd.engine.checks import NON_NEGATIVE, POSITIVE
from mpscd.methods.base import Distiller
from mpscd.methods.registry import register


def mld_loss(student_logits, teacher_logits):
    """L2D's multi-label logit distillation: per-class binary KL between
    sigmoid(teacher) and sigmoid(student), summed over classes, averaged over images."""
    s, t = student_logits.float(), teacher_logits.float()
    p_t = torch.sigmoid(t)
    kl = p_t * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - p_t) * (F.logsigmoid(-t) - F.logsigmoid(-s))
    return kl.sum() / s.shape[0]


def kd_loss(student_logits, teacher_logits, temperature=4.0):
    """Hinton et al. 2015 ("Distilling the Knowledge in a Neural Network") for multi-label
    outputs: per-class binary KL of the temperature-softened sigmoids, times T^2."""
    return temperature ** 2 * mld_loss(student_logits.float() / temperature, teacher_logits.float() / temperature)


@register("kd")
class LogitKD(Distiller):
    """BCE + weight * T^2 * per-class binary KL of the temperature-softened sigmoids
    (Hinton et al. 2015, on sigmoid outputs). At T = 1 this is L2D's MLD."""

    needs_teacher = True
    term = "kd"

    def __init__(self, student, teacher, lambda_kd: NON_NEGATIVE = 1.0, temperature: POSITIVE = 4.0):
        super().__init__(student, teacher)
        self.lambda_kd, self.temperature = lambda_kd, temperature

    def distillation_terms(self, s, t, targets):
        return {self.term: self.lambda_kd * kd_loss(s["logits"], t["logits"], self.temperature)}


@register("mld")
class MLD(LogitKD):
    """L2D's multi-label logit distillation (Yang et al., ICCV 2023): per-class binary KL
    between sigmoid(teacher) and sigmoid(student)."""

    term = "mld"

    def __init__(self, student, teacher, lambda_kd: NON_NEGATIVE = 1.0, temperature: POSITIVE = 1.0):
        super().__init__(student, teacher, lambda_kd, temperature)
