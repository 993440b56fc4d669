import os

import pytest
import torch

import main
from conftest import demo_config
from mpscd.engine.config import SCHEMA, load_config
from mpscd.engine.evaluation import cuda_amp_dtype, needs_grad_scaler
from utils import UserError


def write(path, text):
    path.write_text(text)
    return str(path)


def test_base_inheritance_and_overrides(tmp_path):
    write(tmp_path / "base.py", "img_size = 96\nteacher_train = dict(epochs=5)\ndistiller = dict(type='mpscd', tau_s=0.2)\n")
    leaf = write(tmp_path / "leaf.py", "_base_ = 'base.py'\nbatch_size = 8\ndistiller = dict(type='mpscd', tau_r=0.3)\n")
    cfg = load_config(leaf, ["seed=3", "student_train=dict(lr=0.01)"])
    assert cfg.img_size == 96 and cfg.batch_size == 8 and cfg.seed == 3
    assert cfg.teacher_train == {**SCHEMA["teacher_train"][0], "epochs": 5}  # partial dicts keep defaults
    assert cfg.student_train["lr"] == 0.01 and cfg.student_train["epochs"] == 80
    assert cfg.distiller == {"type": "mpscd", "tau_s": 0.2, "tau_r": 0.3}


def test_other_distiller_type_replaces_base_dict(tmp_path):
    write(tmp_path / "base.py", "distiller = dict(type='mpscd', tau_s=0.2)\n")
    leaf = write(tmp_path / "leaf.py", "_base_ = ['base.py']\ndistiller = dict(type='vanilla')\n")
    assert load_config(leaf).distiller == {"type": "vanilla"}


def test_unknown_key_names_key_and_file(tmp_path):
    leaf = write(tmp_path / "typo.py", "img_szie = 96\n")
    with pytest.raises(UserError, match=r"img_szie.*typo\.py"):
        load_config(leaf)
    with pytest.raises(UserError, match="unknown entries.*epoch"):
        load_config(write(tmp_path / "sub.py", "teacher_train = dict(epoch=3)\n"))


def test_wrong_type_and_bad_override(tmp_path):
    leaf = write(tmp_path / "bad.py", "batch_size = '64'\n")
    with pytest.raises(UserError, match=r"batch_size.*bad\.py.*int"):
        load_config(leaf)
    good = write(tmp_path / "good.py", "")
    with pytest.raises(UserError, match="pretrained"):
        load_config(good, ["pretrained=1"])
    with pytest.raises(UserError, match="key=value"):
        load_config(good, ["seed"])
    assert load_config(good, ["eval_threshold=1"]).eval_threshold == 1.0  # an int where a float goes


def test_dump_round_trip(tmp_path):
    cfg = load_config(write(tmp_path / "c.py", "dataset = 'demo'\nteacher_checkpoint = '/x/t.pth'\n"))
    cfg.dump(str(tmp_path / "resolved.py"))
    assert load_config(str(tmp_path / "resolved.py")) == cfg


def test_keys_with_fixed_choices_refuse_other_values(tmp_path):
    good = write(tmp_path / "good.py", "")
    with pytest.raises(UserError, match=r"amp_dtype.*--opts.*'auto', 'bfloat16', 'float16'.*'fp16'"):
        load_config(good, ["amp_dtype='fp16'"])
    assert load_config(good, ["amp_dtype='float16'"]).amp_dtype == "float16"


def test_cuda_precision_auto_is_bfloat16_without_grad_scaler_where_the_gpu_has_it(tmp_path, monkeypatch):
    cfg, cuda = load_config(write(tmp_path / "c.py", "")), torch.device("cuda")
    for has_bf16, dtype, scaler in ((True, torch.bfloat16, False), (False, torch.float16, True)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: has_bf16)
        assert cuda_amp_dtype(cfg) == dtype and needs_grad_scaler(cuda, cfg) == scaler
    assert needs_grad_scaler(cuda, {**cfg, "amp_dtype": "bfloat16"}) is False
    assert needs_grad_scaler(cuda, {**cfg, "amp": False}) is False
    assert needs_grad_scaler(torch.device("cpu"), cfg) is False


DEMO_MPSCD = demo_config("mpscd")
# (--opts value, the key the error names): every one refused before any work starts.
BAD_VALUES = [
    ("teacher_train=dict(lr='1e-4')", "teacher_train.lr"), ("teacher_train=dict(epochs=-1)", "teacher_train.epochs"),
    ("teacher_train=dict(epochs=2.5)", "teacher_train.epochs"), ("student_train=dict(lr=0)", "student_train.lr"),
    ("student_train=dict(weight_decay=-1e-4)", "student_train.weight_decay"),
    ("student_train=dict(pct_start=1.0)", "student_train.pct_start"), ("student_train=dict(lr=1e999)", "student_train.lr"),
    ("teacher_train=[80]", "teacher_train"), ("augment=dict(cutout=1.5)", "augment.cutout"),
    ("augment=dict(flip='yes')", "augment.flip"), ("demo=dict(train_size=0)", "demo.train_size"),
    ("demo=dict(canvas=8)", "demo.canvas"), ("demo=dict(seed=-1)", "demo.seed"),
    ("embed_dim=-5", "embed_dim"), ("embed_dim=100", "embed_dim"), ("num_workers=-1", "num_workers"),
    ("batch_size=0", "batch_size"), ("img_size=4", "img_size"), ("img_size=64.0", "img_size"),
    ("eval_threshold=1.5", "eval_threshold"), ("eval_interval=-1", "eval_interval"), ("print_freq=0", "print_freq"),
    ("checkpoint_interval=-3", "checkpoint_interval"), ("diagnostics=-1", "diagnostics"), ("seed=-2", "seed"),
    ("dataset='imagenet'", "dataset"), ("teacher='resnet9'", "teacher"), ("student=18", "student"),
    ("pretrained='no'", "pretrained"), ("amp_dtype='fp16'", "amp_dtype"), ("difficult='hard'", "difficult"),
    ("teacher_checkpoint=''", "teacher_checkpoint"), ("compile=1", "compile"), ("channels_last=True", "channels_last"),
    ("distiller='mpscd'", "distiller"), ("distiller=dict(type='crd')", "distiller.type"),
    ("distiller=dict(type='mpscd', lambda_s2p='x')", "distiller.lambda_s2p"),
    ("distiller=dict(type='mpscd', tau_s=0)", "distiller.tau_s"),
    ("distiller=dict(type='mpscd', lambda_pcrd=-1)", "distiller.lambda_pcrd"),
    ("distiller=dict(type='mpscd', prototype_momentum=1.5)", "distiller.prototype_momentum"),
    ("distiller=dict(type='mpscd', s2s_relations='every')", "distiller.s2s_relations"),
    ("distiller=dict(type='mpscd', proj_dim=0)", "distiller.proj_dim"),
    ("distiller=dict(type='mpscd', structure_schedule=((0.5, 1), (0.2, 0)))", "distiller.structure_schedule"),
    ("distiller=dict(type='mpscd', s2p_negatives=1)", "distiller.s2p_negatives"),
    ("distiller=dict(type='mpscd', structure_schedule=((0, 1), (1, -1)))", "distiller.structure_schedule"),
    ("distiller=dict(type='mpscd', structure_schedule=((0, True),))", "distiller.structure_schedule"),
    ("distiller=dict(type='mpscd', tau_r=10**400)", "distiller.tau_r"),
    ("distiller=dict(type='kd', temperature=0)", "distiller.temperature"),
    ("distiller=dict(type='l2d', lambda_cd=-100)", "distiller.lambda_cd"),
    ("distiller=dict(type='mld', tau=2)", "distiller"),
]


@pytest.mark.parametrize("value,key", BAD_VALUES, ids=[v for v, _ in BAD_VALUES])
def test_every_bad_value_is_one_error_line_before_any_work(value, key, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(main, "Run", None)  # nothing may be built: the check comes first
    with pytest.raises(SystemExit) as exit_:
        main.cli(["--cfg_file", DEMO_MPSCD, "--work_dir", str(tmp_path), "--opts", value])
    stderr = capsys.readouterr().err
    assert exit_.value.code == 2
    assert stderr.startswith(f"error: {key} in --opts: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and not os.listdir(tmp_path)


def test_a_bad_value_in_a_file_names_the_file(tmp_path):
    with pytest.raises(UserError, match=r"^student_train\.lr in .*bad\.py: must be a number > 0, got int -1$"):
        load_config(write(tmp_path / "bad.py", "student_train = dict(lr=-1)\n"))
