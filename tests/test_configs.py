"""Every shipped config runs end to end (two iterations per stage, tiny images), and the report
command tables run folders made by main.py."""
import glob
import json
import os

import pytest
import torch

from conftest import ROOT, copy_voc_sample, demo_opts, make_coco, make_nuswide
import main
from models import build_model
from mpscd import report
from mpscd.config import load_config
from mpscd.distillers import build_distiller

CONFIGS = sorted(f for f in glob.glob(os.path.join(ROOT, "configs", "*", "*.py"))
                 if os.path.basename(os.path.dirname(f)) not in ("_base_", "tables"))
DATA = {"demo": None, "voc": copy_voc_sample, "voc_sample": copy_voc_sample, "coco": make_coco,
        "nuswide": make_nuswide}
TINY = ["pretrained=False", "img_size=32", "batch_size=4", "num_workers=0", "embed_dim=16", "print_freq=1"]


@pytest.fixture(scope="module")
def data_roots(tmp_path_factory):
    """One tiny dataset per kind, made on first use."""
    made = {}

    def root(kind):
        if DATA[kind] is not None and kind not in made:
            made[kind] = str(DATA[kind](tmp_path_factory.mktemp(kind)))
        return made.get(kind)
    return root


def split_by_recipe(configs):
    """Shipped configs grouped by every setting but the distiller. One config per group
    runs end to end (its MPSCD config where there is one); the others (baselines,
    ablations, study variants) only change the distiller: built and stepped once."""
    groups = {}
    for config in configs:
        recipe = repr(sorted((k, v) for k, v in load_config(config).items() if k != "distiller"))
        groups.setdefault(recipe, []).append(config)
    run, variants = [], []
    for members in groups.values():
        members.sort(key=lambda c: not c.endswith("_mpscd.py"))
        run.append(members[0])
        variants += members[1:]
    return sorted(run), sorted(variants)


RUN_CONFIGS, VARIANTS = split_by_recipe(CONFIGS)


@pytest.mark.parametrize("config", VARIANTS, ids=lambda f: os.path.relpath(f, os.path.join(ROOT, "configs")))
def test_distiller_variant_builds_and_steps(config):
    cfg = load_config(config)
    torch.manual_seed(0)
    student, teacher = build_model(cfg["student"], 4, 16, pretrained=False), build_model(cfg["teacher"], 4, 16, pretrained=False)
    spec = {**cfg["distiller"], **({"prototype_init": "first_batch"} if cfg["distiller"]["type"] == "mpscd" else {})}
    distiller = build_distiller(spec, student, teacher).train()
    terms = distiller(torch.randn(2, 3, 32, 32), torch.tensor([[1.0, 0, 1, 0], [1, 1, 0, 0]]))
    assert all(torch.isfinite(v) for v in terms.values())
    sum(terms.values()).backward()


@pytest.mark.parametrize("config", RUN_CONFIGS, ids=lambda f: os.path.relpath(f, os.path.join(ROOT, "configs")))
def test_config_runs(config, data_roots, tmp_path):
    kind = os.path.basename(os.path.dirname(config))
    data_root = data_roots(kind)
    args = ["--cfg_file", config, "--work_dir", str(tmp_path), "--max_iters", "2", "--opts", *TINY]
    if kind == "demo":
        args += ["demo=dict(train_size=16, test_size=8)"]
    results = main.main(args if data_root is None else args + ["--data_root", data_root])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["student_metrics"]["mAP"] == pytest.approx(results["student_metrics"]["mAP"])
    assert saved["distiller"]["type"] == saved["method"]


def demo_run(work_dir, method, *opts):
    config = os.path.join(ROOT, "configs", "demo", f"resnet34_to_resnet18_{method}.py")
    main.main(["--cfg_file", config, "--work_dir", str(work_dir), "--max_iters", "2", "--opts", *demo_opts(*opts)])


def test_report_tables_seeds_and_ablations(tmp_path, capsys):
    demo_run(tmp_path / "vanilla" / "seed0", "vanilla", "seed=0")
    demo_run(tmp_path / "vanilla" / "seed1", "vanilla", "seed=1")
    demo_run(tmp_path / "mpscd", "mpscd")
    demo_run(tmp_path / "mpscd_s2s1", "mpscd", "distiller=dict(type='mpscd', lambda_s2s=1.0)")
    capsys.readouterr()  # the runs' logs
    report.main([str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| dataset | teacher | student | method | img | runs | mAP |")
    rows = {line.split(" | ")[3]: line.split(" | ") for line in lines[2:]}
    assert set(rows) == {"teacher", "vanilla", "mpscd (lambda_s2s=0.01)", "mpscd (lambda_s2s=1.0)"}
    assert rows["vanilla"][5] == "2" and " ± " in rows["vanilla"][6]  # two seeds: mean ± std
    assert rows["teacher"][5] == "1"  # both MPSCD runs trained the same seed-0 teacher; vanilla has none
    vanilla = [json.loads((tmp_path / "vanilla" / s / "results.json").read_text())["student_metrics"]["mAP"]
               for s in ("seed0", "seed1")]
    assert rows["vanilla"][6].split(" ± ")[0] == f"{sum(vanilla) / 2:.2f}"
    report.main([str(tmp_path / "mpscd"), "--csv"])
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0] == "dataset,teacher,student,method,img_size,runs,mAP,OF1_topk,CF1_topk,OF1_threshold,CF1_threshold"
    assert csv_lines[2].startswith("demo,resnet34,resnet18,mpscd,32,1,")
    with pytest.raises(SystemExit, match="no results.json"):
        report.main([str(tmp_path / "nothing")])


def test_report_labels_runs_without_recorded_settings():
    runs = [{"method": "vanilla"}, {"method": "mpscd"},
            {"method": "mpscd", "distiller": {"type": "mpscd", "lambda_s2s": 0.1, "tau_s": 0.1}},
            {"method": "mpscd", "distiller": {"type": "mpscd", "lambda_s2s": 1.0, "tau_s": 0.1}}]
    assert sorted(report.method_labels(runs).values()) == [
        "mpscd (lambda_s2s=0.1)", "mpscd (lambda_s2s=1.0)", "mpscd (settings not recorded)", "vanilla"]
