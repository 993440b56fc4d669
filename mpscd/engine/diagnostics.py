"""Training diagnostics (config `diagnostics = N`): on the first N batches of every epoch
(so an epoch's figures describe the state the previous epoch left; epoch 1's, the
initialisation),
the gradient norm of each weighted loss term with respect to the student's label-wise
embeddings and to the last stage of its backbone, and the health of the label-wise
embeddings of the student and the teacher. Epoch means go into metrics.jsonl and
TensorBoard as `diag/...`.

The gradients come from the training step's own forward pass (torch.autograd.grad with the
graph retained), so measuring changes neither the random state nor BatchNorm statistics:
a run with diagnostics trains exactly as one without, only slower on the measured batches.
"""
import math

import torch
import torch.nn.functional as F


def last_stage(network):
    """The parameters of the backbone's last child that has any (e.g. layer4 of a ResNet)."""
    for child in reversed(list(network.backbone.body.children())):
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            return params
    return []


def effective_rank(x):
    """exp(entropy of the normalised singular values) of the centred rows of x [n, D]:
    1 when they lie on a line, up to min(n, D) when they fill the space evenly."""
    if x.shape[0] < 2:
        return float("nan")
    s = torch.linalg.svdvals(x - x.mean(0))
    p = s / s.sum().clamp_min(1e-12)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))


@torch.no_grad()
def embedding_health(embeddings, labels):
    """Figures of collapse for label-wise embeddings [B, C, D] and labels [B, C]:
    - image_spread: per class, the RMS distance of its unit embeddings (all images) from
      their mean, averaged over classes; 0 when a class's embedding ignores the image;
    - cos_within / cos_between: mean cosine between positives of the same class in
      different images / of different classes;
    - effective_rank of the positives' unit embeddings."""
    u = F.normalize(embeddings.float(), dim=-1)
    spread = (u - u.mean(0, keepdim=True)).pow(2).sum(-1).mean(0).sqrt().mean()
    positive = labels == 1
    img, cls = positive.nonzero(as_tuple=True)
    e = u[img, cls]
    cos = e @ e.t()
    same_class = cls[:, None] == cls[None, :]
    other_image = img[:, None] != img[None, :]
    within, between = cos[same_class & other_image], cos[~same_class]
    return {"image_spread": float(spread),
            "cos_within": float(within.mean()) if within.numel() else float("nan"),
            "cos_between": float(between.mean()) if between.numel() else float("nan"),
            "effective_rank": effective_rank(e)}


class Diagnostics:
    """Accumulates the figures of the measured batches of one epoch."""

    def __init__(self, distiller, batches_per_epoch):
        self.distiller, self.batches_per_epoch = distiller, batches_per_epoch
        # the outputs of the step's own forward passes, kept on the batches to measure; the
        # teacher's where the distiller gets them (cache_teacher_outputs runs no teacher)
        self.outputs = {}
        distiller.student.register_forward_hook(lambda module, inputs, outputs: self._keep("student", outputs))
        if distiller.teacher is not None:
            teacher_forward = distiller.teacher_forward

            def keep_teacher_outputs(images):
                outputs = teacher_forward(images)
                self._keep("teacher", outputs)
                return outputs
            distiller.teacher_forward = keep_teacher_outputs
        self.sums, self.count = {}, 0

    def _keep(self, role, outputs):
        if self.count < self.batches_per_epoch:
            self.outputs[role] = outputs

    def measure(self, terms, targets):
        """Called after the forward pass of a training step, before its backward."""
        if "student" not in self.outputs:
            return
        embeddings = self.outputs["student"]["embeddings"]
        stage = last_stage(self.distiller.student)
        figures = {}
        for name, value in terms.items():
            grads = torch.autograd.grad(value, [embeddings, *stage], retain_graph=True, allow_unused=True)
            figures[f"grad_embeddings/{name}"] = _norm(grads[:1])
            figures[f"grad_last_stage/{name}"] = _norm(grads[1:])
        figures.update({f"student/{k}": v for k, v in embedding_health(embeddings, targets).items()})
        if "teacher" in self.outputs:
            teacher = self.outputs["teacher"]["embeddings"]
            figures.update({f"teacher/{k}": v for k, v in embedding_health(teacher, targets).items()})
        norm = self.distiller.student.head.decoder.norm3  # the head's final LayerNorm
        figures["student/final_norm_gain"] = float(norm.weight.detach().abs().mean())
        for k, v in figures.items():
            if math.isfinite(v):  # e.g. no two positives of one class in this batch
                total, n = self.sums.get(k, (0.0, 0))
                self.sums[k] = (total + v, n + 1)
        self.count += 1
        self.outputs = {}

    def epoch_summary(self):
        """Means over the epoch's measured batches, keyed diag/...; resets for the next epoch."""
        summary = {f"diag/{k}": total / n for k, (total, n) in self.sums.items()}
        self.sums, self.count = {}, 0
        return summary


def _norm(grads):
    squares = [g.float().pow(2).sum() for g in grads if g is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0
