"""mpscd.pretrain: a 32 px backbone trained on single digits, read back as a run's weights."""
import os
import threading
import time

import pytest
import torch

from conftest import ROOT, demo_opts
import main
from models import Backbone, build_model
from mpscd import pretrain
from utils import UserError
from utils.run_lock import RunLock


def test_pretrained_weights_load_as_teacher_and_student_weights(tmp_path):
    out = str(tmp_path / "resnet8.pth")
    pretrain.main(["--arch", "resnet8", "--out", out, "--images", "256", "--epochs", "2"])
    saved = torch.load(out, weights_only=True)
    assert saved["arch"] == "resnet8" and 0.0 <= saved["accuracy"] <= 1.0
    model = build_model("resnet8", 10, 16, weights_path=out)
    for key, value in saved["state_dict"].items():
        assert torch.equal(model.backbone.body.state_dict()[key], value), key
    x, y = pretrain.single_digits(50, seed=3)
    assert x.shape == (50, 3, 32, 32) and x.dtype == torch.uint8 and set(y.tolist()) <= set(range(10))
    config = f"{ROOT}/configs/demo/resnet20_to_resnet8_mld.py"
    results = main.main(["--cfg_file", config, "--work_dir", str(tmp_path / "run"), "--max_iters", "2",
                         "--opts", *demo_opts(f"student_weights={out!r}", "teacher='resnet8'",
                                              f"teacher_weights={out!r}")])
    assert results["student_metrics"]["mAP"] >= 0


def test_pretrain_refuses_networks_it_cannot_make_weights_for():
    with pytest.raises(UserError, match="32 px networks"):
        pretrain.pretrain("resnet18", images=8, epochs=1, lr=1e-3, batch_size=4, seed=0)


def test_pretrained_true_makes_the_digits_weights_once_and_trains_as_if_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the weights go to ./work_dirs/pretrained
    monkeypatch.setitem(pretrain.DEFAULTS, "images", 256)
    monkeypatch.setitem(pretrain.DEFAULTS, "epochs", 1)
    config = f"{ROOT}/configs/demo/resnet20_to_resnet8_vanilla.py"
    run = lambda name: main.main(["--cfg_file", config, "--work_dir", str(tmp_path / name), "--max_iters", "2",
                                  "--opts", *demo_opts("pretrained=True")])
    made = run("made")
    weights = tmp_path / "work_dirs" / "pretrained" / "resnet8_digits.pth"
    assert "making" in (tmp_path / "made" / "log.txt").read_text()
    saved = torch.load(weights, weights_only=True)
    assert saved["arch"] == "resnet8" and saved["images"] == 256
    written = weights.stat().st_mtime_ns
    found = run("found")
    assert weights.stat().st_mtime_ns == written and "making" not in (tmp_path / "found" / "log.txt").read_text()
    assert found["student_metrics"] == made["student_metrics"]  # making the file left the run's random streams alone


def test_digits_weights_wait_for_the_process_making_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = pretrain.default_weights("resnet8")
    os.makedirs(os.path.dirname(path))
    made, found = [], []
    monkeypatch.setattr(pretrain, "pretrain", lambda *args, **kwargs: made.append(args))
    with RunLock(os.path.dirname(path), os.path.basename(path) + ".lock"):  # another run is making them
        waiter = threading.Thread(target=lambda: found.append(pretrain.digits_weights("resnet8", lambda message: None)))
        waiter.start()
        time.sleep(1.5)
        assert waiter.is_alive()
        pretrain.save(Backbone("resnet8"), 0.5, "resnet8", path, **pretrain.DEFAULTS)  # that run's file
    waiter.join(10)
    assert found == [os.path.abspath(path)] and not made


def test_digits_weights_refuse_a_file_made_with_other_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="need --out"):
        pretrain.main(["--arch", "resnet8", "--images", "256", "--epochs", "1"])
    other = {**pretrain.DEFAULTS, "epochs": 1}
    pretrain.save(Backbone("resnet8"), 0.5, "resnet8", pretrain.default_weights("resnet8"), **other)
    with pytest.raises(UserError, match="delete it"):
        pretrain.digits_weights("resnet8")
    recipe = pretrain.RECIPE
    monkeypatch.setattr(pretrain, "RECIPE", recipe - 1)  # the defaults, but an earlier version's training
    pretrain.save(Backbone("resnet8"), 0.5, "resnet8", pretrain.default_weights("resnet8"), **pretrain.DEFAULTS)
    monkeypatch.setattr(pretrain, "RECIPE", recipe)
    with pytest.raises(UserError, match="'recipe': 1"):
        pretrain.digits_weights("resnet8")
