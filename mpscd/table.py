"""Run a whole results table: python -m mpscd.table TABLE --data_root DIR [options].

TABLE is a Python file (configs/tables/) holding `rows`, a list of
dict(label=..., config=..., opts=[...]) with the config path relative to the table file
and opts as for main.py's --opts, and optionally `seeds` (default [0, 1, 2]) and
`teacher_seed` (default 0). Every row runs once per seed in WORK_DIR/<label>/seed<s>.

Teachers: the rows whose teacher recipe (the whole config the teacher's training reads:
dataset, architecture, image size, schedule, ...) is the same share one teacher, trained
once with teacher_seed in WORK_DIR/teachers/<name> before their students start. A row
whose config names a teacher_checkpoint uses that file.

Scheduling: --gpus 0,1 runs one process per GPU; --jobs N runs N processes on the
default device, on the CPU each with an equal share of the cores. A run whose folder
holds results.json is skipped, one with a last checkpoint resumes; a run folder used by
another live process is waited for; a failed run is reported at the end. Finally the
table (mean ± sd over seeds, teachers first) is printed and written to WORK_DIR/table.md
and table.csv."""
import argparse
import hashlib
import json
import os
import runpy
import shlex
import sys
import time

from mpscd.engine.config import SCHEMA, load_config
from mpscd.engine.stopping import Interrupted
from mpscd.methods import distiller_class
from mpscd.report import cells, markdown, write_csv
from mpscd.scheduler import Scheduler
from utils import UserError
from utils.logger import format_duration

# Keys a student run reads that its teacher's training does not.
STUDENT_ONLY_KEYS = ("student", "student_train", "student_weights", "distiller", "teacher_checkpoint", "seed",
                     "diagnostics", "print_freq", "checkpoint_interval", "cache_teacher_outputs")


class Job:
    """One main.py run: its folder, its command, and the teacher job it waits for."""

    def __init__(self, name, work_dir, args, needs=None, label=None, seed=None):
        self.name, self.work_dir, self.args, self.needs = name, work_dir, args, needs
        self.label, self.seed = label, seed
        self.state = "done" if self.finished() else "pending"  # -> running -> done | failed
        self.error, self.seconds = None, None

    def finished(self):
        return os.path.isfile(os.path.join(self.work_dir, "results.json"))

    def results(self):
        with open(os.path.join(self.work_dir, "results.json")) as f:
            return json.load(f)

    def command(self, max_iters=None):
        return ([sys.executable, "main.py", *self.args, "--work_dir", self.work_dir, "--resume"]
                + (["--max_iters", str(max_iters)] if max_iters else []))


def read_table(path):
    """rows (label, config path, opts), seeds and teacher_seed of a table file."""
    if not os.path.isfile(path):
        raise UserError(f"table file {path} does not exist")
    values = runpy.run_path(path)
    if not values.get("rows"):
        raise UserError(f"table file {path} has no `rows`")
    rows = []
    for row in values["rows"]:
        unknown = set(row) - {"label", "config", "opts"}
        if unknown or "label" not in row or "config" not in row:
            raise UserError(f"a row of {path} must be dict(label=..., config=..., opts=[...]), got {row}")
        rows.append((row["label"], os.path.normpath(os.path.join(os.path.dirname(path), row["config"])),
                     list(row.get("opts", []))))
    labels = [label for label, _, _ in rows]
    if len(set(labels)) != len(labels):
        raise UserError(f"row labels in {path} must be unique: {labels}")
    return rows, values.get("seeds", [0, 1, 2]), values.get("teacher_seed", 0)


def teacher_recipe(cfg, teacher_seed):
    """The config of the run that trains `cfg`'s teacher (as the student of a vanilla run)."""
    recipe = {k: v for k, v in cfg.items() if k not in STUDENT_ONLY_KEYS}
    recipe.update(student=cfg["teacher"], student_train=cfg["teacher_train"],
                  student_weights=cfg["teacher_weights"], seed=teacher_seed)
    return recipe


def recipe_name(cfg, recipe):
    """A readable, stable name of a teacher recipe: keys left at their defaults are not part
    of its hash, so a new config key (with its default) keeps the trained teachers' names."""
    changed = {k: v for k, v in recipe.items() if v != SCHEMA[k][0]}
    digest = hashlib.sha1(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:8]
    return f"{cfg['teacher']}_{cfg['dataset']}_{cfg['img_size']}px_seed{recipe['seed']}_{digest}"


def plan(table, data_root, work_dir, seeds=None, opts=()):
    """The table's jobs, teachers first: [Job]."""
    rows, table_seeds, teacher_seed = read_table(table)
    data_opts = [f"data_root={os.path.abspath(data_root)!r}"] if data_root else []
    data_args = ["--data_root", data_root] if data_root else []
    teachers, students = {}, []
    for label, config, row_opts in rows:
        row_opts = [*row_opts, *opts]
        cfg = load_config(config, [*row_opts, *data_opts])
        teacher = None
        if distiller_class(cfg["distiller"]).needs_teacher and not cfg["teacher_checkpoint"]:
            recipe = teacher_recipe(cfg, teacher_seed)
            name = recipe_name(cfg, recipe)
            if name not in teachers:
                args = ["--cfg_file", config, *data_args, "--seed", str(teacher_seed), "--opts",
                        *row_opts, "distiller=dict(type='vanilla')", "teacher_checkpoint=None",
                        *(f"{key}={recipe[key]!r}" for key in ("student", "student_train", "student_weights"))]
                teachers[name] = Job(f"teacher {name}", os.path.join(work_dir, "teachers", name), args)
            teacher = teachers[name]
        for seed in seeds or table_seeds:
            checkpoint = [f"teacher_checkpoint={os.path.join(teacher.work_dir, 'student_last.pth')!r}"] if teacher else []
            args = ["--cfg_file", config, *data_args, "--seed", str(seed),
                    *(["--opts", *row_opts, *checkpoint] if row_opts or checkpoint else [])]
            students.append(Job(f"{label} seed {seed}", os.path.join(work_dir, label, f"seed{seed}"), args,
                                teacher, label, seed))
    return list(teachers.values()) + students


def slots(gpus=None, jobs=None):
    """Environments of the concurrent processes."""
    if gpus:
        return [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in gpus.split(",")]
    jobs = jobs or 1
    threads = str(max(1, (os.cpu_count() or 1) // jobs))  # N processes each with every core thrash
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads} for _ in range(jobs)]


def table_report(jobs):
    """report.markdown's rows for the finished runs: teachers first, then each row label
    with mean ± sd over its seeds."""
    rows = []
    for job in jobs:
        if job.label is None and job.state == "done":
            r = job.results()
            rows.append((r["dataset"], r["student"], "-", "teacher", r["img_size"], 1,
                         cells([r["student_metrics"]], [r])))
    by_label = {}
    for job in jobs:
        if job.label is not None and job.state == "done":
            by_label.setdefault(job.label, []).append(job.results())
    for label, runs in by_label.items():
        r = runs[0]
        rows.append((r["dataset"], r["teacher"] if r["teacher_metrics"] else "-", r["student"], label,
                     r["img_size"], len(runs), cells([run["student_metrics"] for run in runs], runs)))
    return rows


def write_report(rows, work_dir):
    text = markdown(rows)
    with open(os.path.join(work_dir, "table.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(work_dir, "table.csv"), "w", newline="") as f:
        write_csv(rows, f)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", help="table file, e.g. configs/tables/demo.py")
    parser.add_argument("--data_root", help="folder holding the dataset (see README.md)")
    parser.add_argument("--work_dir", help="default: work_dirs/tables/<table name>")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the table's seeds")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--gpus", help="comma-separated GPU ids: one process per GPU")
    group.add_argument("--jobs", type=int, help="N concurrent processes (default 1)")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY=VALUE", help="override config keys of every run")
    parser.add_argument("--max_iters", type=int, help="stop each training stage after N iterations (quick checks)")
    parser.add_argument("--dry_run", action="store_true", help="print the runs and their commands, run nothing")
    parser.add_argument("--report", action="store_true", help="print and write the report of the runs finished so far, run nothing")
    args = parser.parse_args(argv)
    name = os.path.splitext(os.path.basename(args.table))[0]
    work_dir = args.work_dir or os.path.join("work_dirs", "tables", name)
    jobs = plan(args.table, args.data_root, work_dir, args.seeds, args.opts)
    if args.dry_run:
        for job in jobs:
            print(f"{job.name} [{job.state}]: {shlex.join(job.command(args.max_iters))}")
        return []
    if args.report:
        rows = table_report(jobs)
        if not rows:
            raise UserError(f"no run of {args.table} has finished in {work_dir}")
        print(write_report(rows, work_dir))
        return []
    todo = sum(job.state == "pending" for job in jobs)
    print(f"{args.table}: {len(jobs)} runs ({len(jobs) - todo} finished earlier) in {work_dir}")
    tic = time.time()
    failed = Scheduler(jobs, slots(args.gpus, args.jobs), args.max_iters).run()
    for job in failed:
        print(f"[failed] {job.name}: {job.error} (output: {os.path.join(job.work_dir, 'table_output.txt')})")
    print(f"table finished in {format_duration(time.time() - tic)}, {len(failed)} runs failed\n")
    print(write_report(table_report(jobs), work_dir))
    return failed


def cli(argv=None):
    """main() for a shell: exit status 1 when a run failed, 2 with one line for a user's mistake."""
    try:
        sys.exit(1 if main(argv) else 0)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as e:  # the runs saved; the conventional status of a process ended by the signal
        print(e, file=sys.stderr)
        sys.exit(128 + e.signum)


if __name__ == "__main__":
    cli()
