import numpy as np
from sklearn.metrics import average_precision_score

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
    cp = np.mean([tp[c] / pred[:, c].sum() if pred[:, c].sum() else 0 for c in range(6)])
    cr = np.mean([tp[c] / targets[:, c].sum() if targets[:, c].sum() else 0 for c in range(6)])
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
