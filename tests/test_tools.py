"""predict and export on a tiny run folder made by main.py."""
import copy
import csv
import os

import pytest
import torch
from PIL import Image

from conftest import demo_config, demo_opts
import main
from datasets.demo import DigitsDemo
from mpscd import export, predict
from mpscd.engine.runner import load_network
from utils import UserError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("run")
    main.main(["--cfg_file", demo_config("vanilla"),
               "--work_dir", str(work_dir), "--max_iters", "2", "--opts", *demo_opts()])
    return work_dir


def test_predict_prints_labels_and_writes_csv(run_dir, tmp_path, capsys):
    demo = DigitsDemo("test", test_size=3)
    for i in range(3):
        Image.fromarray(demo.images[i]).save(tmp_path / f"digits{i}.png")
    paths, scores, _ = predict.main(["--checkpoint", str(run_dir / "student_last.pth"), "--images", str(tmp_path),
                                     "--threshold", "0.0", "--csv", str(tmp_path / "out.csv"), "--workers", "0"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3 and printed[0].startswith(str(tmp_path / "digits0.png"))
    assert len(printed[0].split(", ")) == 10  # threshold 0: every class, with its score
    rows = list(csv.reader(open(tmp_path / "out.csv")))
    assert rows[0] == ["image", *[str(d) for d in range(10)]] and len(rows) == 4
    model = load_network(str(run_dir / "student_last.pth"))
    assert torch.allclose(scores, predict.predict_images(model, paths, 32, torch.device("cpu"))[0])


def test_predict_labels_the_good_images_and_names_the_bad(run_dir, tmp_path, capsys):
    demo = DigitsDemo("test", test_size=3)
    for i in range(3):
        Image.fromarray(demo.images[i]).save(tmp_path / f"good{i}.jpg")
    (tmp_path / "truncated.jpg").write_bytes((tmp_path / "good0.jpg").read_bytes()[:200])
    (tmp_path / "notes.jpg").write_text("not an image")
    checkpoint = str(run_dir / "student_last.pth")
    _, _, failed = predict.main(["--checkpoint", checkpoint, "--images", str(tmp_path), "--workers", "2",
                                 "--batch_size", "2", "--csv", str(tmp_path / "out.csv")])
    out, err = capsys.readouterr()
    assert sorted(os.path.basename(p) for p in failed) == ["notes.jpg", "truncated.jpg"]
    assert [line.split(":")[0] for line in out.strip().splitlines()] == [str(tmp_path / f"good{i}.jpg") for i in range(3)]
    assert "2 of 5 files could not be read" in err and "notes.jpg" in err and "truncated.jpg" in err
    rows = list(csv.reader(open(tmp_path / "out.csv")))
    assert [r[0] for r in rows[1:]] == [str(tmp_path / f"good{i}.jpg") for i in range(3)]
    assert all(len(r) == 11 for r in rows)
    with pytest.raises(UserError, match="none of the 2 files could be read"):
        predict.main(["--checkpoint", checkpoint, "--images", str(tmp_path / "notes.jpg"),
                      str(tmp_path / "truncated.jpg"), "--workers", "0"])


@pytest.mark.parametrize("arch", ["resnet18", "repvgg_a0"])
def test_export_equals_the_checkpoint(tmp_path, arch):
    from models import build_model
    torch.manual_seed(0)
    model = build_model(arch, 5, embed_dim=16)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so that fusing them is tested
        model(torch.randn(4, 3, 32, 32) * 3 + 1)
    model.eval()
    unfused = copy.deepcopy(model)
    assert export.export(model, 32, str(tmp_path / "m.pt2")) < 1e-4
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.export.load(str(tmp_path / "m.pt2")).module()(x), unfused(x)["logits"], atol=1e-4)


def test_export_command_on_a_run(run_dir, tmp_path, capsys):
    export.main(["--checkpoint", str(run_dir / "student_last.pth"), "--output", str(tmp_path / "s.pt2")])
    assert "max |logit difference|" in capsys.readouterr().out
    model = load_network(str(run_dir / "student_last.pth")).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(torch.export.load(str(tmp_path / "s.pt2")).module()(x), model(x)["logits"], atol=1e-4)
