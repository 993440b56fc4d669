"""Interruption, resume, atomic checkpoints and clear errors for bad input."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import torch

from conftest import ROOT, VOC_SAMPLE, copy_voc_sample, demo_config, demo_opts, needs_voc_sample
import main
from utils import UserError
from utils.checkpoint import load_checkpoint, save_checkpoint

DEMO = demo_config("mpscd")
# Two short stages, a checkpoint every iteration, an evaluation every epoch (the best
# checkpoint), a random augmentation (its per-sample seeds), bit-reproducible.
EXACT = demo_opts("teacher_train=dict(epochs=2)", "student_train=dict(epochs=2)", "checkpoint_interval=1",
                  "eval_interval=1", "augment=dict(cutout=0.25)", "cache_teacher_outputs=False",
                  "deterministic=True", "num_workers=1")

# Run processes use one thread: these tiny networks train no faster on two, and a reference
# run in the background then shares the machine's cores with the test's own runs instead of
# fighting over them.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def command(work_dir, *extra, config=DEMO, opts=EXACT):
    return [sys.executable, os.path.join(ROOT, "main.py"), "--cfg_file", config, "--work_dir", str(work_dir),
            "--opts", *opts, *extra]


def torchrun_command(work_dir, *extra):
    """The EXACT run on two gloo ranks (batch 8 each), checkpoints only at epoch ends."""
    from test_distributed import free_port
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
            os.path.join(ROOT, "main.py"), "--cfg_file", DEMO, "--work_dir", str(work_dir), *extra,
            "--opts", *EXACT, "batch_size=8", "checkpoint_interval=0"]


def final_metrics(work_dir):
    with open(os.path.join(work_dir, "results.json")) as f:
        results = json.load(f)
    return results["teacher_metrics"], results["student_metrics"]


def assert_same_student(work_dir, reference_dir):
    """The final student and the method's state (prototype banks, heads), bit for bit:
    ranking metrics on a few test images can hide small differences."""
    final, expected = (load_checkpoint(str(d / "student_last.pth")) for d in (work_dir, reference_dir))
    for part in ("model", "distiller"):
        assert final[part].keys() == expected[part].keys()
        assert all(torch.equal(final[part][k], expected[part][k]) for k in expected[part]), part


def kill_when(proc, condition, sig=signal.SIGKILL, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if condition():
            proc.send_signal(sig)
            return proc.wait()
        time.sleep(0.05)
    raise AssertionError("the run ended before the kill condition held")


def position(work_dir, stage):
    """(epoch, iteration in epoch, global iteration) of the stage's last checkpoint, or None."""
    try:
        state = load_checkpoint(os.path.join(work_dir, f"{stage}_last.pth"))
    except UserError:  # not there yet (or, in a broken implementation, half-written)
        return None
    return state["epoch"], state["iter_in_epoch"], state["global_iter"]


def student_iteration(work_dir):
    return (position(work_dir, "student") or (0, 0, 0))[2]


class BackgroundRun:
    """A run started now, while the test goes on; `finished()` waits for it and returns its
    folder. As a context manager it kills the run on leaving, which only a failed test does
    before the run has ended."""

    def __init__(self, command, work_dir):
        self.work_dir, self.stderr = work_dir, tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.stderr, env=ONE_THREAD)

    def finished(self):
        if self.process.wait() != 0:
            self.stderr.seek(0)
            raise AssertionError(f"the reference run failed: {self.stderr.read().decode()[-2000:]}")
        return self.work_dir

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.process.kill()
        self.process.wait()
        self.stderr.close()


def killed_when(condition, *cmd):
    """Start the run and SIGKILL it when `condition` holds."""
    kill_when(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ONE_THREAD), condition)


def resume_to_end(work_dir, *cmd, says="resumed from"):
    assert not os.path.exists(work_dir / "results.json")
    subprocess.run([*cmd, "--resume"], check=True, capture_output=True, env=ONE_THREAD)
    assert says in (work_dir / "log.txt").read_text()


def test_sigkill_mid_epoch_then_resume_gives_identical_results(tmp_path, exact_reference):
    # killed mid-way through the teacher's last epoch (the student stage must not inherit
    # the teacher's resume offset), then in the student's second epoch, resumed each time
    killed = tmp_path / "killed"
    in_last_teacher_epoch = lambda: (1, 2) <= (position(killed, "teacher") or (0, 0, 0))[:2] < (2, 0)
    killed_when(in_last_teacher_epoch, *command(killed))
    killed_when(lambda: student_iteration(killed) >= 8, *command(killed, "--resume"))
    resume_to_end(killed, *command(killed))
    reference_dir = exact_reference.finished()
    assert final_metrics(killed) == final_metrics(reference_dir)
    assert_same_student(killed, reference_dir)
    assert "iter 7/6" not in (killed / "log.txt").read_text()


def test_kill_before_the_first_student_checkpoint_builds_the_same_student(tmp_path, exact_reference):
    # no mid-epoch checkpoints: a kill in the student's first epoch leaves only the teacher's
    killed = tmp_path / "killed"
    log = killed / "log.txt"
    started = lambda: log.exists() and "[student] epoch 1/2 iter 2/6" in log.read_text()
    run = command(killed, opts=[*EXACT, "checkpoint_interval=0"])
    killed_when(started, *run)
    resume_to_end(killed, *run, says="trained to the end by an earlier run")
    assert not os.path.exists(killed / "student_last.pth") or position(killed, "student")[0] > 0
    reference_dir = exact_reference.finished()
    assert final_metrics(killed) == final_metrics(reference_dir)
    assert_same_student(killed, reference_dir)


def killed_and_resumed_equals_reference(tmp_path, run, kill_at_student_iteration=3):
    """A run (run(work_dir): its command) killed at a student iteration and resumed ends as
    the same run uninterrupted; returns the killed run's folder."""
    killed = tmp_path / "killed"
    with BackgroundRun(run(tmp_path / "reference"), tmp_path / "reference") as reference:
        killed_when(lambda: student_iteration(killed) >= kill_at_student_iteration, *run(killed))
        resume_to_end(killed, *run(killed))
        reference_dir = reference.finished()
    assert final_metrics(killed) == final_metrics(reference_dir)
    assert_same_student(killed, reference_dir)
    return killed


@needs_voc_sample
def test_mpscd_resume_is_exact_when_a_class_has_no_training_positive(tmp_path):
    root = copy_voc_sample(tmp_path / "voc")  # 8 training images: most of VOC's 20 classes absent
    config = os.path.join(ROOT, "configs", "voc", "resnet50_to_resnet18_mpscd.py")
    opts = ["pretrained=False", "img_size=32", "batch_size=4", "num_workers=0", "embed_dim=16", "print_freq=1",
            "teacher_train=dict(epochs=1)", "student_train=dict(epochs=2)", "checkpoint_interval=1",
            "deterministic=True"]
    killed = killed_and_resumed_equals_reference(
        tmp_path, lambda work_dir: command(work_dir, "--data_root", str(root), config=config, opts=opts))
    bank = load_checkpoint(str(killed / "student_last.pth"))["distiller"]["bank_t.initialized"]
    assert not bank.all()  # the case under test: some class never had a prototype


def test_resume_is_exact_with_cached_teacher_outputs(tmp_path):
    """The demo's setting: the teacher's outputs are remembered again when the run resumes,
    and that pass must leave the random streams the checkpoint restored (dropout's) alone."""
    opts = demo_opts("teacher_train=dict(epochs=1)", "student_train=dict(epochs=2)", "checkpoint_interval=1",
                     "deterministic=True", "cache_teacher_outputs=True", "augment=dict(cutout=0.0)")
    killed_and_resumed_equals_reference(tmp_path, lambda work_dir: command(work_dir, opts=opts))


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


class MakesAFolderWhenUnpickled:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.makedirs, (self.path,)


def test_a_checkpoint_that_would_run_code_is_refused_before_it_runs(tmp_path):
    marker = str(tmp_path / "code_ran")
    path = str(tmp_path / "crafted.pth")
    torch.save({"model": {}, "arch": "resnet18", "payload": MakesAFolderWhenUnpickled(marker)}, path)
    with pytest.raises(UserError, match=r"crafted.pth would run code to load.*refused"):
        load_checkpoint(path)
    with pytest.raises(UserError, match="would run code to load"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path / "w"), "--opts", *demo_opts(f"teacher_checkpoint={path!r}")])
    assert not os.path.exists(marker)


def test_old_checkpoints_are_refused_and_upgraded_on_request(tmp_path):
    import numpy as np
    from mpscd.checkpoint import main as checkpoint_main
    from utils.seed import rng_state, set_rng_state
    old = str(tmp_path / "old.pth")
    state = {"model": {"w": torch.ones(2)}, "arch": "resnet18", "rng": rng_state()}
    state["rng"]["numpy"] = np.random.get_state()  # as versions before weights-only checkpoints wrote it
    torch.save(state, old)
    with pytest.raises(UserError, match=r"python -m mpscd.checkpoint upgrade .*old.pth NEW.pth"):
        load_checkpoint(old)
    checkpoint_main(["upgrade", old, str(tmp_path / "new.pth")])
    upgraded = load_checkpoint(str(tmp_path / "new.pth"))
    set_rng_state(upgraded["rng"])
    assert np.random.randint(1 << 30) == (np.random.set_state(state["rng"]["numpy"]), np.random.randint(1 << 30))[1]


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


def test_truncated_jpeg_from_a_loader_worker_is_one_line(tmp_path, small_voc, capsys):
    jpeg = first(small_voc)
    jpeg.write_bytes(jpeg.read_bytes()[:300])
    cfg = os.path.join(ROOT, "configs", "voc", "resnet50_to_resnet18_vanilla.py")
    with pytest.raises(SystemExit) as exit_:
        main.cli(["--cfg_file", cfg, "--data_root", str(small_voc), "--work_dir", str(tmp_path / "w"),
                  "--max_iters", "1", "--opts", "pretrained=False", "img_size=32", "batch_size=4", "num_workers=1",
                  "embed_dim=16"])
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2
    assert stderr.strip().startswith("error: cannot decode image") and jpeg.name in stderr
    assert len(stderr.strip().splitlines()) == 1


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
    with pytest.raises(UserError, match="student in --opts: must be one of 'resnet18', .*got str 'resnet19'"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--max_iters", "1",
                   "--opts", *demo_opts("student='resnet19'")])
    with pytest.raises(UserError, match="img_size.*must be an integer"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", "img_size=64.5"])
    with pytest.raises(UserError, match="unknown option.*lambda_foo.*distiller 'mpscd'"):
        main.main(["--cfg_file", DEMO, "--work_dir", str(tmp_path), "--opts", *demo_opts("distiller=dict(type='mpscd', lambda_foo=1)")])
