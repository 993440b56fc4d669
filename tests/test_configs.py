"""Every shipped config runs end to end (two iterations per stage, tiny images), and the report
command tables run folders made by main.py."""
import glob
import json
import os
import runpy

import pytest
import torch

from conftest import ROOT, copy_voc_sample, demo_opts, make_coco, make_nuswide
from test_own_data import make_folder
import main
from models import build_model
from mpscd import report, table
from mpscd.engine.config import load_config
from mpscd.methods import build_distiller, distiller_settings
from utils.provenance import RunCode, short

CONFIGS = sorted(f for f in glob.glob(os.path.join(ROOT, "configs", "*", "*.py"))
                 if os.path.basename(os.path.dirname(f)) not in ("_base_", "tables"))
DATA = {"demo": None, "voc": copy_voc_sample, "voc_sample": copy_voc_sample, "coco": make_coco,
        "nuswide": make_nuswide, "custom": make_folder}
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
    config = os.path.join(ROOT, "configs", "demo", f"resnet20_to_resnet8_{method}.py")
    main.main(["--cfg_file", config, "--work_dir", str(work_dir), "--max_iters", "2", "--opts", *demo_opts(*opts)])


def test_report_tables_seeds_and_ablations(tmp_path, capsys):
    demo_run(tmp_path / "vanilla" / "seed0", "vanilla", "seed=0")
    demo_run(tmp_path / "vanilla" / "seed1", "vanilla", "seed=1")
    demo_run(tmp_path / "mpscd", "mpscd")
    demo_run(tmp_path / "mpscd_s2s1", "mpscd", "distiller=dict(type='mpscd', lambda_s2s=0.5)")
    capsys.readouterr()  # the runs' logs
    report.main([str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| dataset | teacher | student | method | img | runs | mAP |")
    assert lines[0].endswith("| commit |")
    rows = {line.split(" | ")[3]: line.split(" | ") for line in lines[2:]}
    assert set(rows) == {"teacher", "vanilla", "mpscd (lambda_s2s=0.5)", "mpscd (lambda_s2s=1.0)"}
    code = json.loads((tmp_path / "mpscd" / "results.json").read_text())["code"]
    assert code["torch"] == torch.__version__ and code["device"].startswith("cpu")
    if code["commit"]:  # a git checkout: the run names its commit in results.json, the log and the table
        assert len(code["commit"]) == 40 and code["commit"] in (tmp_path / "mpscd" / "log.txt").read_text()
        assert rows["vanilla"][-1].strip(" |") == short(code)
        assert rows["teacher"][-1] == rows["vanilla"][-1]  # the teachers' own record: trained by this code
    assert rows["vanilla"][5] == "2" and " ± " in rows["vanilla"][6]  # two seeds: mean ± std
    assert rows["teacher"][5] == "1"  # both MPSCD runs trained the same seed-0 teacher; vanilla has none
    vanilla = [json.loads((tmp_path / "vanilla" / s / "results.json").read_text())["student_metrics"]["mAP"]
               for s in ("seed0", "seed1")]
    assert rows["vanilla"][6].split(" ± ")[0] == f"{sum(vanilla) / 2:.2f}"
    report.main([str(tmp_path / "mpscd"), "--csv"])
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0] == ("dataset,teacher,student,method,img_size,runs,mAP,OF1_topk,CF1_topk,OF1_threshold,"
                            "CF1_threshold,commit")
    assert csv_lines[2].startswith("demo,resnet20,resnet8,mpscd,32,1,")
    with pytest.raises(SystemExit, match="no results.json"):
        report.main([str(tmp_path / "nothing")])


def test_report_labels_runs_without_recorded_settings():
    runs = [{"method": "vanilla"}, {"method": "mpscd"},
            {"method": "mpscd", "distiller": {"type": "mpscd", "lambda_s2s": 0.1, "tau_s": 0.1}},
            {"method": "mpscd", "distiller": {"type": "mpscd", "lambda_s2s": 1.0, "tau_s": 0.1}}]
    assert sorted(report.method_labels(runs).values()) == [
        "mpscd (lambda_s2s=0.1)", "mpscd (lambda_s2s=1.0)", "mpscd (settings not recorded)", "vanilla"]


def test_report_says_when_a_table_mixes_commits():
    def run(commit, dirty=False):
        metrics = {c: 50.0 for c in report.COLUMNS}
        return {"dataset": "voc", "teacher": "resnet50", "student": "resnet18", "method": "mld", "img_size": 224,
                "distiller": {"type": "mld"}, "student_metrics": metrics, "teacher_metrics": None,
                "code": {"commit": commit, "dirty": dirty}}
    same = report.markdown(report.table_rows([run("a" * 40), run("a" * 40)]))
    assert "mixes" not in same and same.splitlines()[2].endswith("| aaaaaaaa |")
    teacher = {**run("a" * 40), "teacher_metrics": run("a" * 40)["student_metrics"], "teacher_code": None}
    assert report.markdown(report.table_rows([teacher])).splitlines()[2].endswith("| unrecorded |")  # teacher row
    mixed = report.markdown(report.table_rows([run("a" * 40), run("b" * 40, dirty=True), {**run(None), "seed": 2}]))
    assert "| aaaaaaaa, bbbbbbbb+, unrecorded |" in mixed
    assert "mixes code versions (aaaaaaaa, bbbbbbbb+, unrecorded)" in mixed



def test_a_resume_by_other_code_is_logged_and_recorded():
    here = {"commit": "a" * 40, "dirty": False, "torch": "2", "device": "cpu"}
    lines, code = [], RunCode(here)
    code.resumed({**here, "device": "cuda"}, "run/student_last.pth", lines.append)  # same code elsewhere
    assert lines == [] and code.record() == here
    code.resumed({**here, "commit": "b" * 40, "dirty": True}, "run/teacher_last.pth", lines.append)
    code.resumed(None, "run/student_last.pth", lines.append)  # written before checkpoints held a record
    assert lines[0] == ("warning: run/teacher_last.pth was written by code bbbbbbbb+, this process runs aaaaaaaa: "
                        "the result mixes the two") and "unrecorded" in lines[1]
    assert short(code.record()) == "aaaaaaaa (resumed from bbbbbbbb+, unrecorded)"
    later = RunCode({**here, "commit": "c" * 40})  # resumes a checkpoint that code (a) wrote after its resume
    later.resumed(code.record(), "run/student_last.pth", lines.append)
    assert short(later.record()) == "cccccccc (resumed from aaaaaaaa, bbbbbbbb+, unrecorded)"


def test_different_uncommitted_edits_of_one_commit_are_different_code(monkeypatch, tmp_path):
    import subprocess
    from utils import provenance
    git = lambda *args: subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                                       check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("notes\n")
    git("add", ".")
    git("commit", "-qm", "first")
    monkeypatch.setattr(provenance, "REPO", str(tmp_path))
    record = lambda: provenance.code_version(torch.device("cpu"))
    (tmp_path / "notes.md").write_text("other notes\n")  # documents are not code
    clean = record()
    (tmp_path / "a.py").write_bytes(b"x = 2  # caf\xe9\n")  # not UTF-8
    one = record()
    (tmp_path / "a.py").write_text("x = 3\n")
    another = record()
    assert clean["dirty"] is False and short(clean) == clean["commit"][:8]
    assert short(one) == f"{one['commit'][:8]}+{one['dirty']}" and len(one["dirty"]) == 8
    assert one["dirty"] != another["dirty"]
    lines = []
    RunCode(one).resumed(another, "run/student_last.pth", lines.append)
    assert len(lines) == 1 and lines[0].endswith("the result mixes the two")


SEED_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "voc", "*_mpscd.py"))
                      + glob.glob(os.path.join(ROOT, "configs", "coco", "*_mpscd.py"))
                      + glob.glob(os.path.join(ROOT, "configs", "nuswide", "*_mpscd.py")))


def test_seed_configs_spell_out_mpscd_at_full_strength():
    """Every option of the distiller is written in each seed config's own file (no hidden
    default), the same in all of them, and not the light setting."""
    assert len(SEED_CONFIGS) == 8
    options = set(distiller_settings({"type": "mpscd"}))
    settings = []
    for path in SEED_CONFIGS:
        written = runpy.run_path(path)["distiller"]
        assert set(written) == options, path
        settings.append(written)
    assert all(s == settings[0] for s in settings)
    full = settings[0]
    assert full == distiller_settings({"type": "mpscd"})  # the distiller's defaults are the seed configs'
    assert (full["lambda_pcrd"], full["lambda_s2s"], full["lambda_s2p"], full["structure_grad_cap"]) == (1, 1, 1, 0)
    light = load_config(os.path.join(ROOT, "configs", "voc", "resnet50_to_resnet18_mpscd_light.py"))["distiller"]
    assert light["lambda_s2p"] == 0.1 and light["s2s_relations"] == "class_residual"


def test_ablations_remove_one_part_of_the_seed_config():
    voc = os.path.join(ROOT, "configs", "voc", "resnet50_to_resnet18_{}.py")
    full = load_config(voc.format("mpscd"))["distiller"]
    removed = {"pcrd": dict(lambda_s2s=0.0, lambda_s2p=0.0), "pcsd": dict(lambda_pcrd=0.0),
               "s2s": dict(lambda_pcrd=0.0, lambda_s2p=0.0), "s2p": dict(lambda_pcrd=0.0, lambda_s2s=0.0),
               "mpscd_nocorrection": dict(prototype_momentum=1.0)}
    for name, change in removed.items():
        assert load_config(voc.format(name))["distiller"] == {**full, **change}, name


def test_paper_sweep_table_plans(capsys):
    table.main([os.path.join(ROOT, "configs", "tables", "voc_paper_sweep.py"), "--data_root", "DATA", "--dry_run",
                "--work_dir", "sweep"])
    lines = capsys.readouterr().out.splitlines()
    labels = {line.split(" seed ")[0] for line in lines if " seed " in line}
    assert labels == {"vanilla", "mld", "kd", "l2d", "mpscd", "mpscd_x0.1", "mpscd_x10", "mpscd_light"}
    assert len([line for line in lines if " seed " in line]) == 24
    assert any("lambda_pcrd=10.0, lambda_s2s=10.0, lambda_s2p=10.0" in line for line in lines)
