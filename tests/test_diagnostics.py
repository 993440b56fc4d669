"""Diagnostics: what they measure, and that measuring leaves training unchanged."""
import math

import pytest
import torch

from test_end_to_end import run_main
from mpscd.engine.diagnostics import effective_rank, embedding_health
from utils.checkpoint import load_checkpoint
from utils.logger import read_jsonl


def test_embedding_health_tells_collapsed_from_spread_embeddings():
    torch.manual_seed(0)
    labels = torch.tensor([[1.0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]])
    queries = torch.randn(3, 16)
    collapsed = embedding_health(queries.expand(4, 3, 16) * torch.rand(4, 1, 1) * 3, labels)  # image ignored
    assert collapsed["image_spread"] == pytest.approx(0, abs=1e-6)
    assert collapsed["cos_within"] == pytest.approx(1, abs=1e-6)
    spread = embedding_health(torch.randn(4, 3, 16), labels)
    assert spread["image_spread"] > 0.5 and abs(spread["cos_within"]) < 0.6
    line = torch.randn(1, 16) * torch.arange(6.0)[:, None]
    assert effective_rank(line) == pytest.approx(1, abs=1e-4)
    assert effective_rank(torch.eye(8)) == pytest.approx(8, rel=0.2)


def test_diagnostics_are_logged_and_change_nothing(tmp_path):
    exact = ["deterministic=True", "demo=dict(train_size=48, test_size=32)", "teacher_train=dict(epochs=1)", "student_train=dict(epochs=2)"]
    plain = run_main(tmp_path / "plain", *exact, max_iters=1000)
    measured = run_main(tmp_path / "measured", *exact, "diagnostics=2", max_iters=1000)
    assert measured["student_metrics"] == plain["student_metrics"]
    a, b = (load_checkpoint(str(tmp_path / d / "student_last.pth"))["model"] for d in ("plain", "measured"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    records = [r for r in read_jsonl(tmp_path / "measured" / "metrics.jsonl") if r["stage"] == "student"]
    assert len(records) == 2
    for record in records:
        for term in ("bce", "pcrd", "s2s", "s2p"):
            assert record[f"diag/grad_embeddings/{term}"] > 0 and record[f"diag/grad_last_stage/{term}"] > 0
        for k in ("image_spread", "cos_within", "cos_between", "effective_rank", "final_norm_gain"):
            assert math.isfinite(record[f"diag/student/{k}"])
        assert math.isfinite(record["diag/teacher/image_spread"])
    assert not any(k.startswith("diag/") for k in read_jsonl(tmp_path / "plain" / "metrics.jsonl")[-1])
