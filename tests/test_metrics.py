import numpy as np
from sklearn.metrics import average_precision_score, f1_score

from utils.metrics import average_precision, multilabel_metrics


def test_ap_equals_sklearn_with_and_without_ties():
    rng = np.random.default_rng(0)
    for trial in range(20):
        y = (rng.random(60) < 0.3).astype(int)
        y[0] = 1
        scores = rng.random(60) if trial % 2 else rng.integers(0, 5, 60) / 4.0  # ties
        assert np.isclose(average_precision(scores, y), average_precision_score(y, scores))


def test_metrics_against_plain_computation():
    rng = np.random.default_rng(1)
    scores = rng.random((50, 6)).astype(np.float32)
    targets = (rng.random((50, 6)) < 0.4).astype(np.float32)
    targets[:, 0] = 0  # a class without positives is left out of the mean
    m = multilabel_metrics(scores, targets)
    ap = [average_precision_score(targets[:, c], scores[:, c]) for c in range(1, 6)]
    assert np.isclose(m["mAP"], 100 * np.mean(ap)) and np.isnan(m["AP"][0])
    pred = scores >= 0.5
    tp = (pred & (targets == 1)).sum(0)
    # per-class figures average over the classes with a positive, as mAP does
    cp = np.mean([tp[c] / pred[:, c].sum() if pred[:, c].sum() else 0 for c in range(1, 6)])
    cr = np.mean([tp[c] / targets[:, c].sum() for c in range(1, 6)])
    assert np.isclose(m["CP_threshold"], 100 * cp) and np.isclose(m["CR_threshold"], 100 * cr)
    assert np.isclose(m["CF1_threshold"], 100 * 2 * cp * cr / (cp + cr))
    op, orr = tp.sum() / pred.sum(), tp.sum() / targets.sum()
    assert np.isclose(m["OF1_threshold"], 100 * 2 * op * orr / (op + orr))
    # top-k: each image predicts exactly as many labels as it has
    k = targets.sum(1).astype(int)
    topk = np.zeros_like(pred)
    for i in range(50):
        topk[i, np.argsort(-scores[i])[:k[i]]] = True
    tp = (topk & (targets == 1)).sum()
    assert np.isclose(m["OP_topk"], 100 * tp / topk.sum())


def test_ignored_labels_count_nowhere():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6]], dtype=np.float32)
    targets = np.array([[1, 0], [-1, 1], [0, -1]], dtype=np.float32)
    m = multilabel_metrics(scores, targets)
    kept = multilabel_metrics(scores[[0, 2]][:, :1], targets[[0, 2]][:, :1])
    assert np.isclose(m["AP"][0], kept["AP"][0])
    assert m["OP_threshold"] == 100.0  # the 0.8 of an ignored label is no false positive


def test_topk_cf1_is_l2d_macro_f1_and_threshold_cf1_is_ml_gcn():
    rng = np.random.default_rng(2)
    scores = rng.random((80, 7)).astype(np.float32)
    targets = (rng.random((80, 7)) < 0.3).astype(np.float32)
    targets[np.arange(7), np.arange(7)] = 1  # every class has a positive
    m = multilabel_metrics(scores, targets)
    k = targets.sum(1).astype(int)
    topk = np.zeros(scores.shape, dtype=int)
    for i in range(80):
        topk[i, np.argsort(-scores[i])[:k[i]]] = 1
    assert np.isclose(m["CF1_topk"], 100 * f1_score(targets, topk, average="macro"))
    assert np.isclose(m["OF1_topk"], 100 * f1_score(targets, topk, average="micro"))
    cp, cr = m["CP_threshold"], m["CR_threshold"]
    assert np.isclose(m["CF1_threshold"], 2 * cp * cr / (cp + cr))
    assert not np.isclose(m["CF1_topk"], 2 * m["CP_topk"] * m["CR_topk"] / (m["CP_topk"] + m["CR_topk"]))


def test_a_class_without_positives_counts_nowhere():
    targets = np.eye(20, dtype=np.float32)[np.arange(40) % 19]  # class 19 never present
    m = multilabel_metrics(targets * 0.9 + 0.05, targets)
    for protocol in ("topk", "threshold"):
        assert all(m[f"{k}_{protocol}"] == 100.0 for k in ("CP", "CR", "CF1", "OP", "OR", "OF1"))
    assert m["mAP"] == 100.0 and np.isnan(m["AP"][19])
