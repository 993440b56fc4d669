import pytest

from mpscd.config import SCHEMA, load_config
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
