"""MPSCD's loss terms (docs/method.md).

They take raw [B, C, D] tensors and labels, normalise inside, compute in float32 (also
under autocast) and return a float32 scalar that stays in the graph even when nothing
contributes (then it is 0). They are written on every (image, class) pair with a mask of
the ones that take part (positives, labelled pairs), never on a gathered subset: shapes
never depend on the labels, so a training step needs no nonzero() or boolean indexing,
which would make the host wait for the GPU. No Python loop over samples or classes.
"""
import torch
import torch.nn.functional as F

_MASKED = -1e4  # a logit whose exp() is 0 in float32, without the NaNs of -inf


def unit(x):
    return F.normalize(x.float(), dim=-1)


def _pairs(labels):
    """Image and class index of each of the B*C (image, class) pairs, in row-major order."""
    B, C = labels.shape
    img = torch.arange(B, device=labels.device).repeat_interleave(C)
    return img, torch.arange(C, device=labels.device).repeat(B)


def _masked_mean(values, mask):
    """Mean of `values` where `mask` is True; 0 (in the graph) where it is nowhere True."""
    return (values * mask).sum() / mask.sum().clamp_min(1)


def _valid_classes(labels, proto_valid):
    """[C] bool: the classes whose prototypes may be used (all of them when not given)."""
    if proto_valid is None:
        return torch.ones(labels.shape[1], dtype=torch.bool, device=labels.device)
    return proto_valid


def _masked_kl(teacher_logits, student_logits, mask):
    """Mean, over the rows (last dimension) with any valid entry, of
    KL(softmax(teacher) || softmax(student)), both softmaxes taken over the entries where
    `mask` is True. Rows without one are computed too and weighted 0."""
    log_p_t = F.log_softmax(teacher_logits.masked_fill(~mask, _MASKED), dim=-1)
    log_p_s = F.log_softmax(student_logits.masked_fill(~mask, _MASKED), dim=-1)
    kl = torch.where(mask, log_p_t.exp() * (log_p_t - log_p_s), torch.zeros_like(log_p_t))
    return _masked_mean(kl.sum(-1), mask.any(-1))


def pcrd_loss(u, v, labels, tau=0.1, positive_keys="instance", classes=None):
    """PCRD: InfoNCE between student projections u [B, K, p] and teacher projections
    v [B, K, p] of the prototype-aware representations, over the positive set
    A = {(i, k): labels[i, k] = 1}: anchor u_a against the keys {v_b: b in A}, its positive
    v_a ("instance") or every v_b of its class ("class"). K = C, pair k of class k, unless
    `classes` [B, K] gives each pair's class (a subset of each image's pairs)."""
    if positive_keys not in ("instance", "class"):
        raise ValueError(f"pcrd positives must be 'instance' or 'class', got {positive_keys!r}")
    positive = (labels == 1).flatten()
    u, v = unit(u).flatten(0, 1), unit(v).flatten(0, 1)
    log_prob = F.log_softmax((u @ v.t() / tau).masked_fill(~positive[None, :], _MASKED), dim=1)
    if positive_keys == "instance":
        per_anchor = -log_prob.diagonal()
    else:
        cls = _pairs(labels)[1] if classes is None else classes.flatten()
        same = (cls[:, None] == cls[None, :]) & positive[None, :]
        per_anchor = -(log_prob * same).sum(1) / same.sum(1).clamp_min(1)
    return _masked_mean(per_anchor, positive)


def s2s_loss(s, t, labels, tau=0.1, within_class=False):
    """PCSD sample-to-sample: KL between the teacher's and the student's softmax similarity
    rows of the unit embeddings s [B, C, Ds], t [B, C, Dt] of the positives, over the
    positives of other images; `within_class`: only those of the anchor's class (computed
    per class, [C, B, B], instead of over every pair of (image, class) pairs)."""
    s, t, positive = unit(s), unit(t), labels == 1
    if within_class:
        per_class = positive.t()
        pairs = per_class[:, :, None] & per_class[:, None, :]
        pairs &= ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        similarities = lambda e: torch.einsum("icd,jcd->cij", e, e) / tau
    else:
        img, _ = _pairs(labels)
        positive = positive.flatten()
        pairs = positive[:, None] & positive[None, :] & (img[:, None] != img[None, :])
        similarities = lambda e: e.flatten(0, 1) @ e.flatten(0, 1).t() / tau
    return _masked_kl(similarities(t), similarities(s), pairs)


def s2p_loss(s, t, proto_s, proto_t, labels, tau=0.1, negatives=False, proto_valid=None):
    """PCSD sample-to-prototype: KL between the teacher's and the student's softmaxes over
    the class prototypes (rows [C, D]), one per positive (i, c). `negatives=True` adds the
    embeddings of absent labels as anchors; `proto_valid` [C] bool leaves uninitialised
    prototypes out of both softmaxes."""
    anchors = (labels == 1) | ((labels == 0) if negatives else False)
    mask = anchors[:, :, None]
    if proto_valid is not None:
        mask = mask & proto_valid
    similarities = lambda e, proto: torch.einsum("bcd,kd->bck", unit(e), unit(proto)) / tau
    return _masked_kl(similarities(t, proto_t), similarities(s, proto_s), mask)


def s2p_over_images(s, t, proto_s, proto_t, labels, tau, proto_valid=None):
    """Sample-to-prototype, per class: KL between the teacher's and the student's softmax over
    the batch's images of the similarity of each image's class-c embedding to prototype c
    (present and absent labels alike; ignored labels (-1) left out), averaged over the
    classes with a valid prototype. s [B, C, Ds], t [B, C, Dt] raw embeddings; prototypes
    [C, D] unit rows.

    Each model's unit embeddings and prototypes are first centred on the mean of its valid
    prototypes: a trained teacher's label-wise embeddings share one dominant direction, and
    uncentred, a class's similarities to its prototype hardly vary across images (the
    softmax would be uniform)."""
    valid = _valid_classes(labels, proto_valid)

    def similarities(e, proto):
        proto = proto.float()
        centre = (proto * valid[:, None]).sum(0) / valid.sum().clamp_min(1)
        return torch.einsum("bcd,cd->cb", unit(unit(e) - centre), unit(proto - centre)) / tau

    mask = (labels >= 0).t() & valid[:, None]
    return _masked_kl(similarities(t, proto_t), similarities(s, proto_s), mask)


def supcon_loss(e, labels, tau=0.2):
    """The authors' code's sample-to-sample term: multi-label supervised contrast of ONE
    network's label-wise embeddings e [B, C, D] (SADCL's, as AiXia520/MPSCD uses it; no
    teacher). Anchor a = (i, c) positive; its positives: the positives of class c in other
    images; its denominator: every other positive of the batch, any class, any image:

        mean over anchors with a positive of  -1/|P(a)| sum_{p in P(a)} log( exp(z_a.z_p / tau) / sum_{b in A, b != a} exp(z_a.z_b / tau) )

    tau 0.2 is the authors' temperature."""
    positive = (labels == 1).flatten()
    _, cls = _pairs(labels)
    z = unit(e).flatten(0, 1)
    others = positive[:, None] & positive[None, :] & ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    log_prob = F.log_softmax((z @ z.t() / tau).masked_fill(~others, _MASKED), dim=1)
    partners = others & (cls[:, None] == cls[None, :])  # a pair is one (image, class): same class, other image
    per_anchor = -(log_prob * partners).sum(1) / partners.sum(1).clamp_min(1)
    return _masked_mean(per_anchor, partners.any(1))


def prototype_contrast_mse(s, t, proto_s, proto_t, labels, tau=0.07, proto_valid=None):
    """The authors' code's sample-to-prototype term: per class c, the contrast of its
    prototype against the batch's images,

        v_c = -log( sum over images with c present of exp(cos(e_ic, P[c]) / tau) / sum over images with c labelled of the same )

    computed in each model's space; the mean over the classes with a positive (and a valid
    prototype) of (v_c(student) - v_c(teacher))^2. The authors match the two sums over
    classes, one number each; here each class's value is matched. tau 0.07 is theirs."""
    present, known = (labels == 1).t(), (labels >= 0).t()
    valid = _valid_classes(labels, proto_valid)

    def contrast(e, proto):
        similarity = torch.einsum("bcd,cd->cb", unit(e), unit(proto)) / tau
        return (torch.logsumexp(similarity.masked_fill(~known, _MASKED), dim=1)
                - torch.logsumexp(similarity.masked_fill(~present, _MASKED), dim=1))

    return _masked_mean((contrast(s, proto_s) - contrast(t, proto_t)) ** 2, present.any(1) & valid)
