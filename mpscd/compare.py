"""Paired comparison of table rows over seeds:
python -m mpscd.compare WORK_DIR [WORK_DIR ...] --rows A B --baselines MLD KD [--metric mAP]
[--seeds 0 1 2].

WORK_DIR is an mpscd.table folder (<label>/seed<s>/results.json). For each folder, every
row's value per seed is printed; each of --rows is compared with the best of --baselines
(the highest mean in that folder) over the seeds both have: mean difference, paired t-test
(two-sided) and Wilcoxon signed-rank p-values, and the t-test's p-value Holm-corrected over
all comparisons of the command (every row in every folder; a pair with fewer than two
common seeds is named and not tested). Each folder's commits are
printed: compare only rows run with one commit."""
import argparse
import glob
import json
import os
import sys

import numpy as np
from scipy import stats

from utils.provenance import short


def read_rows(work_dir, metric, seeds=None):
    """{label: {seed: value}} and the set of commits of the runs (of `seeds` only, if given)."""
    rows, commits = {}, set()
    for path in sorted(glob.glob(os.path.join(work_dir, "*", "seed*", "results.json"))):
        with open(path) as f:
            run = json.load(f)
        if seeds is not None and run["seed"] not in seeds:
            continue
        label = os.path.basename(os.path.dirname(os.path.dirname(path)))
        rows.setdefault(label, {})[run["seed"]] = run["student_metrics"][metric]
        commits.add(short(run.get("code")))
    return rows, commits


def holm(p_values):
    """Holm's step-down adjustment (family-wise error), in the order given."""
    order = np.argsort(p_values)
    adjusted, running = np.empty(len(p_values)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def compare(work_dirs, candidates, baselines, metric="mAP", seeds=None, out=print):
    comparisons = []  # (folder, row, baseline, differences, t p, Wilcoxon p)
    for work_dir in work_dirs:
        rows, commits = read_rows(work_dir, metric, seeds)
        out(f"\n{work_dir}: {metric} per seed (commits: {', '.join(sorted(commits))})")
        found = sorted({s for values in rows.values() for s in values})
        out("| row | mean ± sd | " + " | ".join(f"seed {s}" for s in found) + " |")
        for label, values in rows.items():
            v = np.array(list(values.values()))
            cells = " | ".join(f"{values[s]:.2f}" if s in values else "-" for s in found)
            out(f"| {label} | {v.mean():.2f} ± {v.std(ddof=1) if len(v) > 1 else 0:.2f} | {cells} |")
        present = [b for b in baselines if b in rows]
        if not present:
            continue
        best = max(present, key=lambda b: np.mean(list(rows[b].values())))
        for row in (r for r in candidates if r in rows):
            common = sorted(set(rows[row]) & set(rows[best]))
            if len(common) < 2:
                out(f"{row} against {best}: {len(common)} paired seed(s), no test")
                continue
            d = np.array([rows[row][s] - rows[best][s] for s in common])
            t_p = stats.ttest_rel([rows[row][s] for s in common], [rows[best][s] for s in common]).pvalue
            w_p = stats.wilcoxon(d).pvalue if np.any(d) else 1.0
            comparisons.append((work_dir, row, best, d, float(t_p), float(w_p)))
    adjusted = holm([c[4] for c in comparisons]) if comparisons else []
    out(f"\n| folder | row | vs | seeds | mean difference | paired t p | Holm p ({len(comparisons)} tests) | Wilcoxon p |")
    out("|---|---|---|---|---|---|---|---|")
    for (work_dir, row, best, d, t_p, w_p), h in zip(comparisons, adjusted):
        out(f"| {os.path.basename(os.path.normpath(work_dir))} | {row} | {best} | {len(d)} | "
            f"{d.mean():+.2f} ± {d.std(ddof=1):.2f} | {t_p:.3g} | {h:.3g} | {w_p:.3g} |")
    return comparisons, adjusted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work_dirs", nargs="+")
    parser.add_argument("--rows", nargs="+", required=True, help="the rows under test")
    parser.add_argument("--baselines", nargs="+", required=True, help="compared with the best of these")
    parser.add_argument("--metric", default="mAP")
    parser.add_argument("--seeds", nargs="+", type=int, help="only these seeds (default: every seed found)")
    args = parser.parse_args(argv)
    for work_dir in args.work_dirs:
        if not glob.glob(os.path.join(work_dir, "*", "seed*", "results.json")):
            sys.exit(f"error: no finished run under {work_dir}")
    compare(args.work_dirs, args.rows, args.baselines, args.metric, args.seeds)


if __name__ == "__main__":
    main()
