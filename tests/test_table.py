"""mpscd.table: shared teachers, scheduling, skip/resume after a kill, locks, failures, report."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, demo_config, demo_opts
import main
from mpscd import table
from mpscd.engine.checks import Number
from mpscd.engine.config import SCHEMA, load_config
from utils.run_lock import BUSY_EXIT_CODE, RunFolderBusy, RunLock, lock_holder


def write_table(path, rows, seeds=(0,)):
    path.write_text(f"seeds = {list(seeds)}\nrows = {rows!r}\n")
    return str(path)


def table_args(table_file, work_dir, *extra):
    return [table_file, "--work_dir", str(work_dir), "--max_iters", "2", "--opts", *demo_opts(), *extra]


def launches(run_dir):
    """How many times main.py started in this run folder (one log line per start)."""
    with open(os.path.join(run_dir, "log.txt")) as f:
        return sum("-> run folder" in line for line in f)


def test_rows_with_one_teacher_recipe_share_one_teacher(tmp_path):
    rows = [dict(label="vanilla", config=demo_config("vanilla")),
            dict(label="mld", config=demo_config("mld")),
            dict(label="kd", config=demo_config("kd"), opts=["student_train=dict(epochs=2)"]),
            dict(label="mld_at_48px", config=demo_config("mld"), opts=["img_size=48"]),
            dict(label="given", config=demo_config("mld"), opts=["teacher_checkpoint='t.pth'"])]
    jobs = table.plan(write_table(tmp_path / "t.py", rows, seeds=(0, 1)), None, str(tmp_path / "w"))
    teachers = [job for job in jobs if job.label is None]
    assert len(teachers) == 2 and jobs[:2] == teachers  # the 32 px and the 48 px teacher, first
    by_name = {job.name: job for job in jobs}
    assert by_name["vanilla seed 1"].needs is None and by_name["given seed 0"].needs is None
    assert by_name["mld seed 0"].needs is by_name["kd seed 1"].needs is teachers[0]
    assert by_name["mld_at_48px seed 0"].needs is teachers[1]
    assert "teacher_checkpoint='t.pth'" in by_name["given seed 1"].args
    assert len(jobs) == 2 + 5 * 2


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(ROOT, "configs", "tables"))))
def test_every_shipped_table_plans_its_runs(name, tmp_path):
    jobs = table.plan(os.path.join(ROOT, "configs", "tables", name), None, str(tmp_path))
    students = [job for job in jobs if job.label is not None]
    assert students and all(os.path.isfile(job.args[1]) for job in jobs)
    assert all(job.needs is None or job.needs in jobs for job in students)


def test_a_new_config_key_with_its_default_keeps_the_teacher_name(monkeypatch):
    cfg = load_config(demo_config("mld"))
    name = table.recipe_name(cfg, table.teacher_recipe(cfg, 0))
    monkeypatch.setitem(SCHEMA, "a_new_key", (3, Number(int)))
    cfg = load_config(demo_config("mld"))
    assert table.recipe_name(cfg, table.teacher_recipe(cfg, 0)) == name
    cfg["a_new_key"] = 4
    assert table.recipe_name(cfg, table.teacher_recipe(cfg, 0)) != name


def test_a_table_killed_and_run_again_runs_each_row_once(tmp_path, monkeypatch, capsys):
    """Three demo rows (the whole demo table's planning is checked above) at two jobs."""
    work = tmp_path / "table"
    three_rows = [dict(label=m, config=demo_config(m)) for m in ("vanilla", "mpscd", "mld")]
    args = table_args(write_table(tmp_path / "t.py", three_rows), work, "--jobs", "2")
    first = subprocess.Popen([sys.executable, "-m", "mpscd.table", *args], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not any(os.path.isfile(work / row / "seed0" / "results.json") for row in ("mpscd", "mld")):
        assert first.poll() is None and time.time() < deadline, "the table ended or stalled before any student"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)  # the table process only: its running children go on as orphans
    first.wait()
    assert table.main([*args, "--report"]) == []
    partial = capsys.readouterr().out
    assert "finished earlier" not in partial  # ran nothing
    assert "| - | teacher |" in partial and ("| mpscd |" in partial or "| mld |" in partial)
    monkeypatch.chdir(ROOT)  # where the table starts main.py
    assert table.main(args) == []  # no failed run
    again = capsys.readouterr().out
    teacher_dirs = list((work / "teachers").iterdir())
    assert len(teacher_dirs) == 1 and launches(teacher_dirs[0]) == 1
    rows = [row["label"] for row in three_rows]
    for row in rows:
        assert launches(work / row / "seed0") == 1, row
        assert not os.path.exists(work / row / "seed0" / "run.lock")
        assert f"| {row} |" in again
    assert (work / "table.md").read_text().count("| - | teacher |") == 1
    assert len((work / "table.csv").read_text().splitlines()) == 1 + 1 + len(rows)


def test_a_failed_run_is_reported_and_the_others_finish(tmp_path, monkeypatch, capsys):
    rows = [dict(label="broken", config=demo_config("mld"), opts=["teacher_checkpoint='nowhere.pth'"]),
            dict(label="vanilla", config=demo_config("vanilla"))]
    monkeypatch.chdir(ROOT)  # where the table starts main.py
    with pytest.raises(SystemExit) as exit_:
        table.cli(table_args(write_table(tmp_path / "t.py", rows), tmp_path / "w", "--jobs", "2"))
    stdout = capsys.readouterr().out
    assert exit_.value.code == 1
    assert "[failed] broken seed 0: exit code 2: error:" in stdout
    assert "1 runs failed" in stdout and "| vanilla |" in stdout
    assert os.path.isfile(tmp_path / "w" / "vanilla" / "seed0" / "results.json")


def test_run_lock_refuses_a_live_holder_and_takes_over_a_stale_one(tmp_path):
    with RunLock(str(tmp_path)):
        assert lock_holder(str(tmp_path))[0] == os.getpid()
        with pytest.raises(RunFolderBusy, match="in use by process"):
            RunLock(str(tmp_path)).__enter__()
    assert lock_holder(str(tmp_path)) is None and not os.listdir(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "run.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    assert lock_holder(str(tmp_path)) is None
    with RunLock(str(tmp_path)):
        assert lock_holder(str(tmp_path))[0] == os.getpid()


def test_main_exits_with_the_busy_status_on_a_locked_folder(tmp_path, capsys):
    with RunLock(str(tmp_path)), pytest.raises(SystemExit) as exit_:
        main.cli(["--cfg_file", demo_config("vanilla"), "--work_dir", str(tmp_path),
                  "--max_iters", "1", "--opts", *demo_opts()])
    assert exit_.value.code == BUSY_EXIT_CODE == 75 and "in use by process" in capsys.readouterr().err
