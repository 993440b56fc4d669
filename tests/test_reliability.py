"""Interruption, resume, atomic checkpoints and clear errors for bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, VOC_SAMPLE, copy_voc_sample, demo_opts, needs_voc_sample
import main
from mpscd import losses
from utils import UserError
from utils.checkpoint import load_checkpoint, save_checkpoint

DEMO = os.path.join(ROOT, "configs", "demo", "resnet34_to_resnet18_mpscd.py")
# Two short stages, a checkpoint every iteration, bit-reproducible.
EXACT = demo_opts("teacher_train=dict(epochs=2)", "student_train=dict(epochs=2)", "checkpoint_interval=1",
                  "deterministic=True", "num_workers=1")


def command(work_dir, *extra):
    return [sys.executable, os.path.join(ROOT, "main.py"), "--cfg_file", DEMO, "--work_dir", str(work_dir),
            "--opts", *EXACT, *extra]


def final_metrics(work_dir):
    with open(os.path.join(work_dir, "results.json")) as f:
        results = json.load(f)
    return results["teacher_metrics"], results["student_metrics"]


def kill_when(proc, condition, sig=signal.SIGKILL, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if condition():
            proc.send_signal(sig)
            return proc.wait()
        time.sleep(0.05)
    raise AssertionError("the run ended before the kill condition held")


def student_iteration(work_dir):
    try:
        state = torch.load(os.path.join(work_dir, "student_last.pth"), weights_only=False)
    except Exception:  # not there yet (or, in a broken implementation, half-written)
        return 0
    return state["global_iter"]


def test_sigkill_mid_epoch_then_resume_gives_identical_results(tmp_path):
    reference = tmp_path / "reference"
    subprocess.run(command(reference), check=True, capture_output=True)
    # killed in the teacher stage, then in the student's second epoch (mid-epoch), resumed each time
    killed = tmp_path / "killed"
    kill_when(subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
              lambda: os.path.exists(killed / "teacher_last.pth"))
    kill_when(subprocess.Popen(command(killed) + ["--resume"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
              lambda: student_iteration(killed) >= 8)
    assert not os.path.exists(killed / "results.json")
    subprocess.run(command(killed) + ["--resume"], check=True, capture_output=True)
    assert final_metrics(killed) == final_metrics(reference)
    assert "resumed from" in (killed / "log.txt").read_text()


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    path = str(tmp_path / "ckpt.pth")
    save_checkpoint({"model": {"w": torch.ones(3)}, "arch": "resnet18"}, path)
    # a save that dies half-way leaves only its temporary file behind
    with open(path + ".tmp", "wb") as f:
        f.write(b"\x80\x02half a pickle")
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(3))
    # and a real process killed while saving repeatedly never corrupts the file
    script = (f"import torch, sys; sys.path.insert(0, {ROOT!r}); from utils.checkpoint import save_checkpoint\n"
              f"i = 0\nwhile True:\n    i += 1\n    save_checkpoint({{'model': {{'w': torch.full((200000,), float(i))}}, "
              f"'arch': 'x'}}, {path!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    time.sleep(3)
    proc.kill()
    proc.wait()
    state = load_checkpoint(path)
    assert state["model"]["w"].unique().numel() == 1


def test_sigterm_saves_and_says_how_to_resume(tmp_path):
    proc = subprocess.Popen(command(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_when(proc, lambda: os.path.exists(tmp_path / "teacher_last.pth"), sig=signal.SIGTERM)
    assert proc.returncode == 130
    assert "checkpoint saved" in proc.stderr.read() and os.path.exists(tmp_path / "teacher_last.pth")


def test_non_finite_loss_stops_naming_step_and_terms(tmp_path, monkeypatch):
    calls = {"n": 0}
    bce = losses.bce_loss

    def breaks_on_third_call(logits, targets):
        calls["n"] += 1
        return bce(logits, targets) * (float("nan") if calls["n"] == 3 else 1.0)
    monkeypatch.setattr(losses, "bce_loss", breaks_on_third_call)
    with pytest.raises(UserError, match=r"non-finite loss at epoch 1, iteration 3 \(bce=nan.*teacher_last.pth"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", *demo_opts("checkpoint_interval=1")])
    assert load_checkpoint(str(tmp_path / "teacher_last.pth"))["global_iter"] == 2


def run_voc(tmp_path, root, *opts):
    cfg = os.path.join(ROOT, "configs", "voc", "resnet50_to_resnet18_vanilla.py")
    return main.main(["--cfg_file", cfg, "--data_root", str(root), "--work_dir", str(tmp_path / "run"),
                      "--max_iters", "1", "--opts", "pretrained=False", "img_size=32", "batch_size=4",
                      "num_workers=0", "embed_dim=16", *opts])


@pytest.fixture
def small_voc(tmp_path):
    return copy_voc_sample(tmp_path / "voc")


def first(root, folder="VOCtrainval2007", kind="JPEGImages", ext="jpg"):
    d = root / folder / "VOCdevkit" / "VOC2007"
    i = (d / "ImageSets" / "Main" / ("trainval.txt" if folder == "VOCtrainval2007" else "test.txt")).read_text().split()[0]
    return d / kind / f"{i}.{ext}"


def test_small_voc_copy_runs(tmp_path, small_voc):
    assert run_voc(tmp_path, small_voc)["student_metrics"]["mAP"] >= 0


@pytest.mark.parametrize("cache", [False, True])
def test_truncated_jpeg_is_named(tmp_path, small_voc, cache):
    jpeg = first(small_voc)
    jpeg.write_bytes(jpeg.read_bytes()[:300])
    with pytest.raises(UserError, match=rf"cannot decode image .*{jpeg.name}"):
        run_voc(tmp_path, small_voc, f"cache_images={cache}")


def test_truncated_jpeg_from_a_loader_worker_is_one_line(tmp_path, small_voc):
    jpeg = first(small_voc)
    jpeg.write_bytes(jpeg.read_bytes()[:300])
    cfg = os.path.join(ROOT, "configs", "voc", "resnet50_to_resnet18_vanilla.py")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--cfg_file", cfg, "--data_root",
                           str(small_voc), "--work_dir", str(tmp_path / "w"), "--max_iters", "1", "--opts",
                           "pretrained=False", "img_size=32", "batch_size=4", "num_workers=1", "embed_dim=16"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: cannot decode image") and jpeg.name in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_annotation_unknown_class_empty_list_missing_image(tmp_path, small_voc):
    xml = first(small_voc, kind="Annotations", ext="xml")
    text = xml.read_text()
    xml.write_text(text.replace("<name>", "<name>zebra", 1))
    with pytest.raises(UserError, match=rf"unknown class 'zebra.*{xml.name}"):
        run_voc(tmp_path, small_voc)
    os.remove(xml)
    with pytest.raises(UserError, match=rf"{xml.name} does not exist"):
        run_voc(tmp_path, small_voc)
    xml.write_text(text)
    os.remove(first(small_voc))
    with pytest.raises(UserError, match="images of .*trainval.txt are missing"):
        run_voc(tmp_path, small_voc)
    (small_voc / "VOCtest2007" / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main" / "test.txt").write_text("\n")
    shutil.copy(os.path.join(VOC_SAMPLE, "VOCtrainval2007", "VOCdevkit", "VOC2007", "JPEGImages", first(small_voc).name),
                first(small_voc))
    with pytest.raises(UserError, match="test.txt is empty"):
        run_voc(tmp_path, small_voc)


def test_missing_data_folder_names_the_expected_path(tmp_path):
    with pytest.raises(UserError, match=r"VOCtrainval2007/VOCdevkit/VOC2007 is missing"):
        run_voc(tmp_path, tmp_path / "nowhere")


def test_unknown_backbone_and_wrong_type_in_config(tmp_path):
    with pytest.raises(UserError, match="unknown backbone 'resnet19'; known: resnet18"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--max_iters", "1",
                   "--opts", *demo_opts("student='resnet19'")])
    with pytest.raises(UserError, match="img_size.*must be int"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", "img_size=64.5"])
    with pytest.raises(UserError, match="unknown option.*lambda_foo.*distiller 'mpscd'"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", *demo_opts("distiller=dict(type='mpscd', lambda_foo=1)")])
