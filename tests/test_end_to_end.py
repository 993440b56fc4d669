import json
import os

import pytest
import torch

from conftest import demo_config, demo_opts
import main
from mpscd.engine.runner import load_network
from utils import UserError
from utils.checkpoint import load_checkpoint
from utils.logger import read_jsonl

DEMO = demo_config("mpscd")


def run_main(work_dir, *extra, config=DEMO, max_iters=3):
    return main.main(["--cfg_file", config, "--work_dir", str(work_dir), "--max_iters", str(max_iters),
                      "--opts", *demo_opts(), *extra])


def test_mpscd_demo_run_writes_a_complete_run_folder(tmp_path):
    results = run_main(tmp_path)
    files = set(os.listdir(tmp_path))
    assert {"config.py", "log.txt", "metrics.jsonl", "results.json", "teacher_last.pth", "teacher_best.pth",
            "student_last.pth", "student_best.pth"} <= files
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["stage"] for r in records] == ["teacher", "student"]
    assert {"loss_bce", "loss_pcrd", "loss_s2s", "loss_s2p", "mAP", "OF1_topk", "CF1_threshold"} <= set(records[1])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["method"] == "mpscd" and len(saved["student_metrics"]["AP"]) == 10
    assert results["teacher_metrics"]["mAP"] == saved["teacher_metrics"]["mAP"]
    log = (tmp_path / "log.txt").read_text()
    assert "img/s" in log and "eta" in log and "lr" in log
    for kind in ("teacher_last", "teacher_best", "student_last", "student_best"):  # the safe way
        assert "model" in torch.load(tmp_path / f"{kind}.pth", weights_only=True)
    best = load_checkpoint(str(tmp_path / "student_best.pth"))
    assert "optimizer" not in best and "rng" not in best  # weights only: resuming reads *_last.pth
    assert load_network(str(tmp_path / "student_best.pth"), "resnet8").num_classes == 10
    # evaluate-only on the student checkpoint, and the teacher re-used from its checkpoint
    metrics = main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path / "eval"), "--evaluate",
                         str(tmp_path / "student_last.pth"), "--opts", *demo_opts()])
    assert metrics["mAP"] == pytest.approx(saved["student_metrics"]["mAP"], abs=1e-4)
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["classes"][0] == "0"
    again = run_main(tmp_path / "reuse", f"teacher_checkpoint='{tmp_path / 'teacher_last.pth'}'")
    assert again["teacher_metrics"]["mAP"] == pytest.approx(saved["teacher_metrics"]["mAP"], abs=1e-4)
    assert not os.path.exists(tmp_path / "reuse" / "teacher_last.pth")


@pytest.mark.parametrize("interval, evaluated", [(2, [2, 3]), (0, [3])])
def test_eval_interval_evaluates_every_n_epochs_and_after_the_last(tmp_path, interval, evaluated):
    run_main(tmp_path, f"eval_interval={interval}", "teacher_train=dict(epochs=1)", "student_train=dict(epochs=3)",
             config=demo_config("vanilla"), max_iters=1000)
    records = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["stage"] == "student"]
    assert [r["epoch"] for r in records if "mAP" in r] == evaluated


def test_teacher_of_another_architecture_is_refused(tmp_path):
    run_main(tmp_path / "t", config=demo_config("vanilla"), max_iters=1)
    student_ckpt = tmp_path / "t" / "student_last.pth"  # a resnet8, not the resnet20 the config wants
    with pytest.raises(UserError, match="arch='resnet8'.*'resnet20'"):
        run_main(tmp_path / "s", f"teacher_checkpoint='{student_ckpt}'")
    with pytest.raises(UserError, match="num_classes=10.*20"):
        load_network(str(student_ckpt), num_classes=20)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.pth is not a readable checkpoint"):
        load_network(str(tmp_path / "junk.pth"))


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main.cli(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", "distiller=dict(type='crd')"])
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2
    assert stderr.startswith("error: distiller.type in --opts: unknown distiller 'crd'; known: kd, l2d, mld, mpscd")
    assert "Traceback" not in stderr and stderr.count("\n") == 1
