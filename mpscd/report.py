"""Results table from run folders: python -m mpscd.report WORK_DIR [WORK_DIR ...] [--csv].

Each folder holding a results.json (found recursively) is one run; runs that share
dataset, teacher, student, method with its settings, and image size form one row, with
mean ± std over their seeds. The teacher row shows the teachers those runs used."""
import argparse
import csv
import glob
import json
import os
import sys

import numpy as np

from utils.provenance import short

COLUMNS = ("mAP", "OF1_topk", "CF1_topk", "OF1_threshold", "CF1_threshold")


def find_results(folders):
    paths = []
    for folder in folders:
        paths += sorted(glob.glob(os.path.join(folder, "**", "results.json"), recursive=True))
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    return runs


def mean_sd(values):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def commits(runs):
    """The code the runs ran (results.json's "code", as utils.provenance.short writes it)."""
    return ", ".join(sorted({short(run.get("code")) for run in runs}))


def _settings_key(run):
    # the settings as text; "null" where results.json predates their recording
    return run["method"], json.dumps(run.get("distiller"), sort_keys=True)


def method_labels(runs):
    """{(method, settings text): label}: the method name, followed by the options that tell
    apart runs of the same method with different settings (an ablation), e.g.
    "mpscd (lambda_s2s=1.0)"."""
    by_method = {}
    for run in runs:
        by_method.setdefault(run["method"], {})[_settings_key(run)] = run.get("distiller")
    labels = {}
    for method, variants in by_method.items():
        recorded = [s for s in variants.values() if s is not None]
        differing = [k for k in sorted({k for s in recorded for k in s})
                     if len({json.dumps(s.get(k)) for s in recorded}) > 1]
        for key, settings in variants.items():
            if settings is None:
                detail = "settings not recorded" if len(variants) > 1 else ""
            else:
                detail = ", ".join(f"{k}={settings.get(k)}" for k in differing)
            labels[key] = f"{method} ({detail})" if detail else method
    return labels


def table_rows(runs):
    """[(dataset, teacher, student, method, img_size, n_runs, {column: cell})], teachers first;
    the cells include "commit". Runs group by everything but the seed, distiller settings included."""
    labels = method_labels(runs)
    groups = {}
    for run in runs:
        method = labels[_settings_key(run)]
        key = (run["dataset"], run["teacher"], run["student"], method, run["img_size"])
        groups.setdefault(key, []).append(run)
    rows, teachers = [], {}
    for (dataset, teacher, student, method, size), group in groups.items():
        metrics = [r["student_metrics"] for r in group]
        rows.append((dataset, teacher, student, method, size, len(group), cells(metrics, group)))
        for r in group:
            if r["teacher_metrics"]:  # one entry per distinct teacher model
                teachers.setdefault((dataset, teacher, size), {})[r["teacher_metrics"]["mAP"]] = r
    teacher_rows = [(d, t, "-", "teacher", s, len(by_map),  # the teachers' own code (older runs: theirs)
                     cells([r["teacher_metrics"] for r in by_map.values()],
                           [{"code": r.get("teacher_code", r.get("code"))} for r in by_map.values()]))
                    for (d, t, s), by_map in teachers.items()]
    return sorted(teacher_rows) + sorted(rows, key=lambda r: r[:5])


def cells(metrics, runs):
    """A row's cells: mean ± sd of each column over `metrics`, and the commits of `runs`."""
    return {**{c: mean_sd([m[c] for m in metrics]) for c in COLUMNS}, "commit": commits(runs)}


def markdown(rows):
    """The table, and a warning under it when its rows ran different code."""
    head = ["dataset", "teacher", "student", "method", "img", "runs", *COLUMNS, "commit"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for *key, n, row_cells in rows:
        lines.append("| " + " | ".join([*map(str, key), str(n), *(row_cells[c] for c in (*COLUMNS, "commit"))]) + " |")
    versions = {v for *_, row_cells in rows for v in row_cells["commit"].split(", ")}
    if len(versions) > 1:
        lines.append(f"\nThis table mixes code versions ({', '.join(sorted(versions))}): compare only rows "
                     "run with the same commit.")
    return "\n".join(lines)


def write_csv(rows, file):
    writer = csv.writer(file)
    writer.writerow(["dataset", "teacher", "student", "method", "img_size", "runs", *COLUMNS, "commit"])
    for *key, n, row_cells in rows:
        writer.writerow([*key, n, *(row_cells[c] for c in (*COLUMNS, "commit"))])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dirs", nargs="+")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of Markdown")
    args = parser.parse_args(argv)
    runs = find_results(args.work_dirs)
    if not runs:
        sys.exit(f"error: no results.json under {', '.join(args.work_dirs)}")
    rows = table_rows(runs)
    if args.csv:
        write_csv(rows, sys.stdout)
    else:
        print(markdown(rows))


if __name__ == "__main__":
    main()
