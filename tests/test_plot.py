import os

import pytest
from PIL import Image

from conftest import demo_config, demo_opts
import main

pytest.importorskip("matplotlib", reason="matplotlib (optional, for mpscd.plot) is not installed")
from mpscd import plot  # noqa: E402


def test_plot_command_writes_valid_pngs(tmp_path):
    for method in ("mpscd", "vanilla"):
        main.main(["--cfg_file", demo_config(method),
                   "--work_dir", str(tmp_path / method), "--max_iters", "2", "--opts", *demo_opts()])
    written = plot.main([str(tmp_path / "mpscd"), "--compare", str(tmp_path / "vanilla"), "--max_images", "40"])
    assert [os.path.basename(p) for p in written] == ["curves.png", "embeddings.png", "per_class_ap.png"]
    for path in written:
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG"
