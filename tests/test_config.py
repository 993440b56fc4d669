import pytest
import torch

from mpscd.config import SCHEMA, load_config
from mpscd.evaluation import cuda_amp_dtype, needs_grad_scaler
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
