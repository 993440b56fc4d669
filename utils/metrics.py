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


def _ratio(numerator, denominator):
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _f1_scores(pred, targets, protocol):
    """CP, CR, OP, OR and the F1s. Per-class figures average over the classes that have a
    positive (as mAP does). CF1: under `topk` the mean of the per-class F1s (scikit-learn's
    macro F1, as L2D's evaluate.py reports it); under `threshold` 2 CP CR / (CP + CR) of the
    averaged CP and CR (ML-GCN's formula)."""
    valid = targets >= 0
    truth = (targets == 1) & valid
    pred = pred & valid
    tp = (pred & truth).sum(0).astype(np.float64)
    n_pred = pred.sum(0).astype(np.float64)
    n_true = truth.sum(0).astype(np.float64)
    has_positive = n_true > 0
    if not has_positive.any():
        return {k: 0.0 for k in ("CP", "CR", "CF1", "OP", "OR", "OF1")}
    precision, recall = _ratio(tp, n_pred)[has_positive], _ratio(tp, n_true)[has_positive]
    cp, cr = precision.mean(), recall.mean()
    op, orr = tp.sum() / max(n_pred.sum(), 1.0), tp.sum() / n_true.sum()
    f1 = lambda p, r: _ratio(2 * p * r, p + r)
    cf1 = f1(precision, recall).mean() if protocol == "topk" else f1(np.array(cp), np.array(cr))
    return {"CP": 100 * cp, "CR": 100 * cr, "CF1": 100 * float(cf1),
            "OP": 100 * op, "OR": 100 * orr, "OF1": 100 * float(f1(np.array(op), np.array(orr)))}


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
        for name, value in _f1_scores(predictions[protocol], targets, protocol).items():
            metrics[f"{name}_{protocol}"] = float(value)
    return metrics
