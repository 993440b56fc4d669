"""mpscd.pretrain: a 32 px backbone trained on single digits, read back as a run's weights."""
import pytest
import torch

from conftest import ROOT, demo_opts
import main
from models import build_model
from mpscd import pretrain
from utils import UserError


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
        pretrain.pretrain("resnet18", images=8, epochs=1)
