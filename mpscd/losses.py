"""Loss terms of MPSCD (../METHOD.md) and of the baselines it is compared with.

Public functions take raw tensors, normalise inside, compute in float32 (also under
autocast) and return a float32 scalar that stays in the graph even when nothing
contributes (then it is 0). Internals prefixed with `_` work on the gathered positive
set A = {(i, c): labels[i, c] = 1} so the distiller gathers it once per step. No Python
loop over samples or classes: every term is a few small matrix products.
"""
import torch
import torch.nn.functional as F

_MASKED = -1e4  # a logit whose exp() is 0 in float32, without the NaNs of -inf


def _zero(*tensors):
    """A 0 that keeps the inputs in the graph (for empty positive sets)."""
    return sum(t.sum() for t in tensors) * 0.0


def positives(labels):
    """Image and class indices of the positive set A (labels == 1), in row-major order."""
    return (labels == 1).nonzero(as_tuple=True)


def _unit(x):
    return F.normalize(x.float(), dim=-1)


def _info_nce(u, v, cls, tau, positive_keys="instance"):
    """PCRD on gathered projections u, v [n, p] (already unit): anchor u_a against the keys
    {v_b}, positives v_a ("instance") or every v_b of the same class ("class")."""
    if u.shape[0] == 0:
        return _zero(u, v)
    log_prob = F.log_softmax(u @ v.t() / tau, dim=1)
    if positive_keys == "instance":
        return -log_prob.diagonal().mean()
    if positive_keys != "class":
        raise ValueError(f"pcrd positives must be 'instance' or 'class', got {positive_keys!r}")
    same = (cls[:, None] == cls[None, :]).float()
    return -((log_prob * same).sum(1) / same.sum(1)).mean()


def _masked_kl(teacher_logits, student_logits, mask):
    """mean over rows with any valid entry of KL(softmax(teacher) || softmax(student)),
    both softmaxes taken over the entries where `mask` is True."""
    rows = mask.any(1)
    if not rows.any():
        return _zero(teacher_logits, student_logits)
    mask = mask[rows]
    log_p_t = F.log_softmax(teacher_logits[rows].masked_fill(~mask, _MASKED), dim=1)
    log_p_s = F.log_softmax(student_logits[rows].masked_fill(~mask, _MASKED), dim=1)
    kl = torch.where(mask, log_p_t.exp() * (log_p_t - log_p_s), torch.zeros_like(log_p_t))
    return kl.sum(1).mean()


def _s2s(s, t, img, tau):
    """Sample-to-sample on gathered unit embeddings s [n, Ds], t [n, Dt]: relations between
    labelled objects of different images."""
    pairs = img[:, None] != img[None, :]
    return _masked_kl(t @ t.t() / tau, s @ s.t() / tau, pairs)


def _s2p(s, t, proto_s, proto_t, tau, proto_valid=None):
    """Sample-to-prototype on gathered unit embeddings against unit prototype rows."""
    mask = torch.ones(s.shape[0], proto_s.shape[0], dtype=torch.bool, device=s.device)
    if proto_valid is not None:
        mask = mask & proto_valid[None, :]
    return _masked_kl(t @ proto_t.float().t() / tau, s @ proto_s.float().t() / tau, mask)


def pcrd_loss(u, v, labels, tau=0.1, positives="instance"):
    """PCRD: InfoNCE between student projections u [B, C, p] and teacher projections
    v [B, C, p] of the prototype-aware representations, over the positive set."""
    img, cls = (labels == 1).nonzero(as_tuple=True)
    return _info_nce(_unit(u[img, cls]), _unit(v[img, cls]), cls, tau, positives)


def s2s_loss(s, t, labels, tau=0.1):
    """PCSD sample-to-sample: KL between teacher and student softmax similarity rows,
    over pairs of labelled objects from different images."""
    img, cls = (labels == 1).nonzero(as_tuple=True)
    return _s2s(_unit(s[img, cls]), _unit(t[img, cls]), img, tau)


def s2p_loss(s, t, proto_s, proto_t, labels, tau=0.1, negatives=False, proto_valid=None):
    """PCSD sample-to-prototype: KL between teacher and student softmaxes over the class
    prototypes. `negatives=True` adds the embeddings of absent labels as anchors;
    `proto_valid` [C] bool leaves uninitialised prototypes out of both softmaxes."""
    anchors = (labels == 1) | ((labels == 0) if negatives else False)
    img, cls = anchors.nonzero(as_tuple=True)
    return _s2p(_unit(s[img, cls]), _unit(t[img, cls]), _unit(proto_s), _unit(proto_t), tau, proto_valid)


def bce_loss(logits, targets):
    """Binary cross-entropy summed over classes, averaged over images; targets of -1
    (ignored labels) count nowhere."""
    logits, targets = logits.float(), targets.float()
    weight = (targets >= 0).float()
    loss = F.binary_cross_entropy_with_logits(logits, targets.clamp(min=0), weight, reduction="none")
    return loss.sum() / logits.shape[0]


def mld_loss(student_logits, teacher_logits):
    """L2D's multi-label logit distillation: per-class binary KL between
    sigmoid(teacher) and sigmoid(student), summed over classes, averaged over images."""
    s, t = student_logits.float(), teacher_logits.float()
    p_t = torch.sigmoid(t)
    kl = p_t * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - p_t) * (F.logsigmoid(-t) - F.logsigmoid(-s))
    return kl.sum() / s.shape[0]
