"""Multi-label metrics: mAP, per-class AP, and CP/CR/CF1/OP/OR/OF1 under two protocols.

Targets are 1 (present), 0 (absent) or -1 (ignored, e.g. VOC difficult-only labels
with difficult="ignore"); ignored entries count nowhere.
"""
import numpy as np

PROTOCOLS = ("topk", "threshold")


def average_precision(scores, targets):
    """Non-interpolated AP of one class (scikit-learn's definition, ties included).
    Returns NaN when the class has no positive."""
    keep = targets >= 0
    scores = np.asarray(scores[keep], dtype=np.float32)
    positive = targets[keep] == 1
    n_pos = positive.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    tp = np.cumsum(positive)
    # Evaluate only at the last position of each run of tied scores.
    last_of_tie = np.r_[scores[1:] != scores[:-1], True]
    tp = tp[last_of_tie]
    ranks = np.flatnonzero(last_of_tie) + 1
    precision = tp / ranks
    recall_step = np.diff(np.r_[0, tp]) / n_pos
    return float(np.sum(precision * recall_step))


def _f1_scores(pred, targets):
    valid = targets >= 0
    truth = (targets == 1) & valid
    pred = pred & valid
    tp = (pred & truth).sum(0).astype(np.float64)
    n_pred = pred.sum(0).astype(np.float64)
    n_true = truth.sum(0).astype(np.float64)
    cp = np.mean(np.divide(tp, n_pred, out=np.zeros_like(tp), where=n_pred > 0))
    cr = np.mean(np.divide(tp, n_true, out=np.zeros_like(tp), where=n_true > 0))
    op = tp.sum() / max(n_pred.sum(), 1.0)
    orr = tp.sum() / max(n_true.sum(), 1.0)
    f1 = lambda p, r: 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"CP": 100 * cp, "CR": 100 * cr, "CF1": 100 * f1(cp, cr),
            "OP": 100 * op, "OR": 100 * orr, "OF1": 100 * f1(op, orr)}


def topk_predictions(scores, targets):
    """Each image's k highest-scored labels, k = its number of true labels (L2D's protocol)."""
    scores = np.where(targets >= 0, scores, -np.inf)
    k = (targets == 1).sum(1)
    rank = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1, kind="stable")
    return rank < k[:, None]


def multilabel_metrics(scores, targets, threshold=0.5):
    """scores: [N, C] probabilities; targets: [N, C] in {1, 0, -1}.
    Returns mAP, per-class AP (NaN for classes without positives) and both protocols."""
    scores = np.asarray(scores, dtype=np.float32)
    targets = np.asarray(targets)
    ap = np.array([average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])])
    metrics = {"mAP": 100 * float(np.nanmean(ap)) if np.isfinite(ap).any() else 0.0,
               "AP": [100 * a for a in ap.tolist()]}
    predictions = {"topk": topk_predictions(scores, targets), "threshold": scores >= threshold}
    for protocol in PROTOCOLS:
        for name, value in _f1_scores(predictions[protocol], targets).items():
            metrics[f"{name}_{protocol}"] = float(value)
    return metrics
