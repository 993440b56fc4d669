"""MPSCD's loss terms (docs/method.md).

They take raw [B, C, D] tensors and labels [B, C], normalise inside, compute in float32 (also
under autocast) and return a float32 scalar that stays in the graph even when nothing
contributes (then it is 0). They are written on a fixed set of (image, class) pairs with a
mask of the ones that take part (positives, labelled pairs), never on a gathered subset:
shapes never depend on the labels, so a training step needs no nonzero() or boolean
indexing, which would make the host wait for the GPU. No Python loop over samples or classes.

The terms among positives take `max_positives`, the most positives one image may have (k,
from the training labels): they then work on each image's k highest-labelled pairs
(`top_pairs`), which hold all its positives, so that their cost follows the positives,
(B k)^2 instead of (B C)^2 (without it, or with k >= C: all B x C pairs). S2P over images
and the prototype contrast take absent labels too: all pairs, at a cost linear in B C D.
"""
import torch
import torch.nn.functional as F

_MASKED = -1e4  # a logit whose exp() is 0 in float32, without the NaNs of -inf


def unit(x):
    return F.normalize(x.float(), dim=-1)


class _Norm(torch.autograd.Function):
    """|x| over the last dimension, at least 1e-12 as in unit(). The S2P terms over images
    need only cosines, so they take norms of every (image, class) embedding instead of
    normalising them; norm()'s own backward makes three [B, C, D] passes, this one one."""

    @staticmethod
    def forward(ctx, x):
        norm = x.norm(dim=-1)
        ctx.save_for_backward(x, norm)
        return norm.clamp_min(1e-12)

    @staticmethod
    def backward(ctx, grad):
        x, norm = ctx.saved_tensors
        return x * torch.where(norm > 1e-12, grad / norm, 0.0)[..., None]  # 0 where clamped


_norm = _Norm.apply


def _cosines(e, directions):
    """unit(e[b, c]) . directions[c] of e [B, C, D] and unit rows [C, D]: [C, B], one matrix
    product per class (no [B, C, D] product as vecdot makes)."""
    e = e.float()
    return (e.transpose(0, 1) @ directions[:, :, None]).squeeze(-1) / _norm(e).t()


def top_pairs(labels, max_positives=None):
    """The classes [B, K] of each image's K = max_positives highest-labelled pairs: all its
    positives if it has at most K (topk: a static shape, no host sync). All C pairs, in
    class order, where max_positives is None or at least C."""
    B, C = labels.shape
    if max_positives is None or max_positives >= C:
        return torch.arange(C, device=labels.device).expand(B, C)
    return labels.topk(max_positives, dim=1).indices


def pick(x, classes):
    """x [B, C] or [B, C, D] at each image's pairs `classes` [B, K]: [B, K] or [B, K, D]."""
    return x.gather(1, classes if x.dim() == 2 else classes[:, :, None].expand(-1, -1, x.shape[2]))


def residual(e, prototypes, classes):
    """The prototype-aware representations of the pairs `classes` [B, K] of e [B, C, D]:
    each one's unit embedding minus its class prototype (rows of prototypes [C, D])."""
    return unit(pick(e, classes)) - prototypes[classes]


def _flat_pairs(labels, classes):
    """Image index, class index and positive flag of the pairs `classes` [B, K], flattened
    row-major to [B*K] (the order of e.flatten(0, 1))."""
    images = torch.arange(len(classes), device=classes.device).repeat_interleave(classes.shape[1])
    return images, classes.flatten(), (pick(labels, classes) == 1).flatten()


def _masked(logits, keep):
    """The logits where `keep` is True, _MASKED elsewhere (where(): one pass, masked_fill two)."""
    return torch.where(keep, logits, _MASKED)


def _masked_mean(values, mask):
    """Mean of `values` where `mask` is True; 0 (in the graph) where it is nowhere True."""
    return (values * mask).sum() / mask.sum().clamp_min(1)


def _valid_classes(labels, proto_valid):
    """[C] bool: the classes whose prototypes may be used (all of them when not given)."""
    if proto_valid is None:
        return torch.ones(labels.shape[1], dtype=torch.bool, device=labels.device)
    return proto_valid


class _Gram(torch.autograd.Function):
    """The similarities z_a . z_b / tau of the rows of z [..., n, D]: [..., n, n]. Its
    backward is one matrix product, (G + G^T) z / tau, where autograd would make two (z is
    both factors): the products are most of S2S's cost."""

    @staticmethod
    def forward(ctx, z, tau):
        ctx.save_for_backward(z)
        ctx.tau = tau
        return (z / tau) @ z.transpose(-1, -2)

    @staticmethod
    def backward(ctx, grad):
        z, = ctx.saved_tensors
        return (grad + grad.transpose(-1, -2)) @ (z / ctx.tau), None


_gram = _Gram.apply


def _masked_kl(teacher_logits, student_logits, mask):
    """Mean, over the rows (last dimension) with any valid entry, of
    KL(softmax(teacher) || softmax(student)), both softmaxes taken over the entries where
    `mask` is True. Rows without one are computed too and weighted 0."""
    teacher_logits, student_logits = _masked(teacher_logits, mask), _masked(student_logits, mask)
    log_p_t, log_p_s = F.log_softmax(teacher_logits, dim=-1), F.log_softmax(student_logits, dim=-1)
    # p_t by softmax(), not log_p_t.exp() (slow where it underflows); masked entries add 0, p_t is 0 there
    kl = F.softmax(teacher_logits, dim=-1) * (log_p_t - log_p_s)
    return _masked_mean(kl.sum(-1), mask.any(-1))


def pcrd_loss(u, v, labels, tau=0.1, positive_keys="instance", classes=None):
    """PCRD: InfoNCE between student projections u [B, K, p] and teacher projections
    v [B, K, p] of the prototype-aware representations of the pairs `classes` [B, K]
    (top_pairs; all C when None) of labels [B, C], over the positive set
    A = {(i, c): labels[i, c] = 1}: anchor u_a against the keys {v_b: b in A}, its positive
    v_a ("instance") or every v_b of its class ("class")."""
    if positive_keys not in ("instance", "class"):
        raise ValueError(f"pcrd positives must be 'instance' or 'class', got {positive_keys!r}")
    classes = top_pairs(labels) if classes is None else classes
    _, cls, positive = _flat_pairs(labels, classes)
    u, v = unit(u).flatten(0, 1), unit(v).flatten(0, 1)
    log_prob = F.log_softmax(_masked((u / tau) @ v.t(), positive[None, :]), dim=1)  # / tau on [n, p], not [n, n]
    if positive_keys == "instance":
        per_anchor = -log_prob.diagonal()
    else:
        same = (cls[:, None] == cls[None, :]) & positive[None, :]
        per_anchor = -(log_prob * same).sum(1) / same.sum(1).clamp_min(1)
    return _masked_mean(per_anchor, positive)


def s2s_loss(s, t, labels, tau=0.1, within_class=False, max_positives=None, proto_s=None, proto_t=None):
    """PCSD sample-to-sample: KL between the teacher's and the student's softmax similarity
    rows of the unit embeddings s [B, C, Ds], t [B, C, Dt] of the positives (with
    prototypes [C, D], of their unit residuals unit(unit(e) - P[c])), over the positives of
    other images; `within_class`: only those of the anchor's class. On every two of the B*K
    pairs of top_pairs(labels, max_positives) or, within a class where C <= K^2 (no more
    entries), on one [B, B] block per class."""
    B, C = labels.shape
    classes = top_pairs(labels, max_positives)
    if within_class and C <= classes.shape[1] ** 2:
        classes = top_pairs(labels)
        per_class = (labels == 1).t()
        pairs = per_class[:, :, None] & per_class[:, None, :]
        pairs &= ~torch.eye(B, dtype=torch.bool, device=labels.device)
        layout = lambda x: x.transpose(0, 1)  # [C, B, D]
    else:
        img, cls, positive = _flat_pairs(labels, classes)
        pairs = positive[:, None] & positive[None, :] & (img[:, None] != img[None, :])
        if within_class:
            pairs &= cls[:, None] == cls[None, :]
        layout = lambda x: x.flatten(0, 1)  # [B*K, D]
    rows = lambda e, proto: layout(unit(pick(e, classes) if proto is None else residual(e, proto, classes)))
    return _masked_kl(_gram(rows(t, proto_t), tau), _gram(rows(s, proto_s), tau), pairs)


def s2p_loss(s, t, proto_s, proto_t, labels, tau=0.1, negatives=False, proto_valid=None, max_positives=None):
    """PCSD sample-to-prototype: KL between the teacher's and the student's softmaxes over
    the class prototypes (rows [C, D]), one per positive (i, c), among the pairs of
    top_pairs(labels, max_positives). `negatives=True` adds the embeddings of absent labels
    as anchors (then on all B x C pairs); `proto_valid` [C] bool leaves uninitialised
    prototypes out of both softmaxes."""
    classes = top_pairs(labels, None if negatives else max_positives)
    picked = pick(labels, classes)
    anchors = (picked == 1) | ((picked == 0) if negatives else False)
    mask = anchors[:, :, None]
    if proto_valid is not None:
        mask = mask & proto_valid
    similarities = lambda e, proto: unit(pick(e, classes)) @ unit(proto).t() / tau  # [B, K, C]
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
        proto, e = proto.float(), e.float()
        centre = (proto * valid[:, None]).sum(0) / valid.sum().clamp_min(1)
        centred = torch.addcmul(e, _norm(e)[..., None], centre, value=-1)  # |e| (unit(e) - centre): same direction
        return _cosines(centred, unit(proto - centre)) / tau

    mask = (labels >= 0).t() & valid[:, None]
    return _masked_kl(similarities(t, proto_t), similarities(s, proto_s), mask)


def supcon_loss(e, labels, tau=0.2, max_positives=None):
    """The authors' code's sample-to-sample term: multi-label supervised contrast of ONE
    network's label-wise embeddings e [B, C, D] (SADCL's, as AiXia520/MPSCD uses it; no
    teacher). Anchor a = (i, c) positive; its positives: the positives of class c in other
    images; its denominator: every other positive of the batch, any class, any image:

        mean over anchors with a positive of  -1/|P(a)| sum_{p in P(a)} log( exp(z_a.z_p / tau) / sum_{b in A, b != a} exp(z_a.z_b / tau) )

    tau 0.2 is the authors' temperature. On the B*K pairs of top_pairs(labels, max_positives)."""
    classes = top_pairs(labels, max_positives)
    _, cls, positive = _flat_pairs(labels, classes)
    z = unit(pick(e, classes)).flatten(0, 1)
    others = positive[:, None] & positive[None, :] & ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    log_prob = F.log_softmax(_masked(_gram(z, tau), others), dim=1)
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
        similarity = _cosines(e, unit(proto)) / tau
        return torch.logsumexp(_masked(similarity, known), dim=1) - torch.logsumexp(_masked(similarity, present), dim=1)

    return _masked_mean((contrast(s, proto_s) - contrast(t, proto_t)) ** 2, present.any(1) & valid)
