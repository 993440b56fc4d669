"""Stopped the way clusters stop jobs: a signal to the whole process group (loader workers
included) saves, stops with the signal's status, and the resumed run ends bit for bit as
an uninterrupted one; the pre-emption warning saves and goes on to the same end;
mpscd.table passes signals on to its runs."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, demo_config
from test_reliability import EXACT, ONE_THREAD, assert_same_student, command, final_metrics, torchrun_command

# Two loader workers, no checkpoints but the ones the signals ask for, a line per step.
STOPPABLE = [*EXACT, "num_workers=2", "checkpoint_interval=0", "preempt_signal='SIGUSR1'"]


def start(work_dir, *extra):
    """A run in a process group of its own, as a scheduler starts a job."""
    return subprocess.Popen(command(work_dir, *extra, opts=STOPPABLE), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ONE_THREAD, start_new_session=True)


def wait_for(path, text, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(path) and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_group_signal_mid_epoch_saves_stops_and_resumes_exactly(sig, status, tmp_path, exact_reference):
    run = tmp_path / "run"
    proc = start(run)
    wait_for(run / "log.txt", "[student] epoch 1/2 iter 1/6", proc)
    os.killpg(proc.pid, sig)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == status
    assert "Traceback" not in stderr and "killed by signal" not in stderr
    saved = re.search(rf"\[student\] {sig.name}: checkpoint {re.escape(str(run / 'student_last.pth'))} saved "
                      r"at epoch (\d+), iteration (\d+); continue with --resume", stderr)
    assert saved and saved[0] in (run / "log.txt").read_text()
    assert not [name for name in os.listdir(run) if name.endswith(".tmp")]
    if sig != signal.SIGTERM:  # the checkpoint does not depend on the signal: one resume checks it
        return
    (run / "student_last.pth.tmp").write_bytes(b"half a save")  # as a kill during a save leaves it
    subprocess.run([*command(run, opts=STOPPABLE), "--resume"], check=True, capture_output=True, env=ONE_THREAD)
    log = (run / "log.txt").read_text()
    assert "removed" in log and "student_last.pth.tmp" in log and not os.path.exists(run / "student_last.pth.tmp")
    epoch, iteration = saved.groups()
    assert f"[student] resumed from {run / 'student_last.pth'} at epoch {epoch}, iteration {iteration} of 6" in log
    assert final_metrics(run) == final_metrics(exact_reference.finished())
    assert_same_student(run, exact_reference.finished())


def test_preemption_warning_saves_and_goes_on_to_the_uninterrupted_result(tmp_path, exact_reference):
    """The warning's checkpoint is the one a stop saves (resumed in the test above); the run
    goes on from it, and the save changes nothing in its result."""
    run = tmp_path / "run"
    proc = start(run)
    wait_for(run / "log.txt", "[student] epoch 1/2 iter 1/6", proc)
    os.killpg(proc.pid, signal.SIGUSR1)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 0, stderr[-2000:]
    log = (run / "log.txt").read_text()
    saved = f"[student] pre-emption signal: checkpoint {run / 'student_last.pth'} saved at epoch "
    assert saved in log and log.index(saved) < log.index("[student] epoch 2/2 iter 6/6")
    assert final_metrics(run) == final_metrics(exact_reference.finished())
    assert_same_student(run, exact_reference.finished())


def test_table_passes_a_group_sigterm_on_to_its_runs(tmp_path, exact_reference):
    table_file = tmp_path / "t.py"
    config = demo_config("mld")
    teacher = exact_reference.finished() / "teacher_last.pth"  # a given teacher: the table starts one run
    opts = [*STOPPABLE, f"teacher_checkpoint={str(teacher)!r}", "student_train=dict(epochs=4)"]  # time to act
    table_file.write_text(f"rows = [dict(label='mld', config={config!r}, opts={opts!r})]\nseeds = [0]\n")
    work = tmp_path / "table"
    cmd = [sys.executable, "-m", "mpscd.table", str(table_file), "--work_dir", str(work)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=ONE_THREAD, start_new_session=True)
    wait_for(work / "mld" / "seed0" / "log.txt", "[student] epoch 1/4 iter 2/6", proc)
    os.kill(proc.pid, signal.SIGTERM)  # the table alone: it must pass the signal on
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143 and "Traceback" not in stderr
    assert "run the same command again to continue" in stderr
    assert "[student] SIGTERM: checkpoint" in (work / "mld" / "seed0" / "log.txt").read_text()


def test_group_sigterm_under_torchrun_stops_both_ranks_at_one_step_and_resumes_exactly(tmp_path, torchrun_reference):
    """Two gloo ranks: SIGTERM to the launcher's group (torchrun forwards it to the ranks,
    which receive it at different steps) ends both at the same step, rank 0 saves one
    checkpoint, and the resumed run ends as an uninterrupted one."""
    run = tmp_path / "run"
    proc = subprocess.Popen(torchrun_command(run), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=ONE_THREAD, start_new_session=True)
    wait_for(run / "log.txt", "[student] epoch 1/2 iter 3/6", proc)
    os.killpg(proc.pid, signal.SIGTERM)
    stderr = proc.communicate(timeout=120)[1]
    stops = [line for line in stderr.splitlines() if "SIGTERM: checkpoint" in line]
    assert len(stops) == 1 and "continue with --resume" in stops[0], stderr[-3000:]  # rank 0 only
    assert not [name for name in os.listdir(run) if name.endswith(".tmp")]
    subprocess.run([*torchrun_command(run), "--resume"], check=True, capture_output=True, env=ONE_THREAD)
    assert final_metrics(run) == final_metrics(torchrun_reference.finished())
    assert_same_student(run, torchrun_reference.finished())
