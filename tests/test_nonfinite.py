"""A loss that turns non-finite stops the run, naming the steps and terms, before it can
overwrite the last good checkpoint."""
import pytest

from conftest import demo_opts
import main
from mpscd.methods import base
from test_reliability import DEMO
from utils import UserError
from utils.checkpoint import load_checkpoint


def bce_nan_on_call(monkeypatch, call):
    """BCE turns NaN on its `call`-th evaluation (one per training step)."""
    calls = {"n": 0}
    bce = base.bce_loss

    def breaks(logits, targets):
        calls["n"] += 1
        return bce(logits, targets) * (float("nan") if calls["n"] == call else 1.0)
    monkeypatch.setattr(base, "bce_loss", breaks)


def test_non_finite_loss_stops_naming_step_and_terms(tmp_path, monkeypatch):
    bce_nan_on_call(monkeypatch, 3)
    with pytest.raises(UserError, match=r"non-finite loss at epoch 1, iteration 3 \(sums over the epoch: bce=nan.*teacher_last.pth"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", *demo_opts("checkpoint_interval=1")])
    assert load_checkpoint(str(tmp_path / "teacher_last.pth"))["global_iter"] == 2


def test_non_finite_loss_is_caught_before_the_next_checkpoint_naming_the_window(tmp_path, monkeypatch):
    """Without a check per step: a NaN in epoch 2's third step (of 6) is found when epoch 2
    ends, before its checkpoint, and epoch 1's checkpoint stays the last one."""
    bce_nan_on_call(monkeypatch, 9)
    with pytest.raises(UserError, match=r"non-finite loss at epoch 2, iterations 1-6 \(sums over the epoch: bce=nan"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", *demo_opts("print_freq=100")])
    assert load_checkpoint(str(tmp_path / "teacher_last.pth"))["global_iter"] == 6
