"""mpscd.compare: paired tests over seeds against the best baseline, Holm-corrected."""
import json

import pytest
from scipy import stats

from mpscd import compare


def write_run(root, label, seed, value, commit="a" * 40):
    folder = root / label / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"seed": seed, "student_metrics": {"mAP": value},
                                                     "code": {"commit": commit, "dirty": False}}))


def test_rows_are_compared_with_the_best_baseline_and_holm_corrected(tmp_path):
    values = {"mld": [50.0, 51, 52, 53], "kd": [49.0, 50, 50, 51], "mpscd": [51.0, 53, 52, 55],
              "light": [50.5, 50, 53, 53]}
    for label, row in values.items():
        for seed, value in enumerate(row):
            write_run(tmp_path, label, seed, value)
    lines = []
    comparisons, adjusted = compare.compare([str(tmp_path)], ["mpscd", "light"], ["mld", "kd"], out=lines.append)
    assert [(c[1], c[2]) for c in comparisons] == [("mpscd", "mld"), ("light", "mld")]  # mld has the higher mean
    p = [stats.ttest_rel(values[r], values["mld"]).pvalue for r in ("mpscd", "light")]
    assert [c[4] for c in comparisons] == pytest.approx(p)
    low, high = sorted(p)
    assert sorted(adjusted) == pytest.approx([2 * low, max(2 * low, high)])
    assert any("| mpscd | 52.75 ± 1.71 | 51.00 | 53.00 | 52.00 | 55.00 |" in line for line in lines)
    assert any("commits: aaaaaaaa" in line for line in lines)


def test_seeds_can_be_restricted_and_a_single_pair_is_not_tested(tmp_path):
    for label, row in {"mld": [50.0, 51, 52], "mpscd": [51.0, 50, 55]}.items():
        for seed, value in enumerate(row):
            write_run(tmp_path, label, seed, value)
    lines = []
    comparisons, _ = compare.compare([str(tmp_path)], ["mpscd"], ["mld"], seeds=[0, 1], out=lines.append)
    assert comparisons[0][3].tolist() == [1.0, -1.0]  # seed 2 left out
    lines = []
    assert compare.compare([str(tmp_path)], ["mpscd"], ["mld"], seeds=[2], out=lines.append) == ([], [])
    assert "mpscd against mld: 1 paired seed(s), no test" in lines
    other = tmp_path / "other"  # a second folder (not a row of the first: no seed folders) keeps its own seeds
    for label, row in {"mld": [50.0, 51, 52, 53], "mpscd": [51.0, 50, 55, 54]}.items():
        for seed, value in enumerate(row):
            write_run(other, label, seed, value)
    comparisons, _ = compare.compare([str(tmp_path), str(other)], ["mpscd"], ["mld"], out=[].append)
    assert [len(c[3]) for c in comparisons] == [3, 4]


def test_holm_is_the_step_down_adjustment():
    assert compare.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
