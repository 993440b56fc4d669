"""The benchmark's measurements run (at toy sizes: the numbers it prints are not tested)."""
import argparse

import torch

from conftest import copy_voc_sample
from mpscd import benchmark


def test_loss_terms_and_step_overhead_run_on_the_default_mpscd():
    args = argparse.Namespace(steps=1, batch_size=2, img_size=32, modes=("eager",))
    device = torch.device("cpu")
    t_dense, t_loop, positives = benchmark.loss_terms(args, device, B=4, C=5, D=8)
    assert t_dense > 0 and t_loop > 0 and positives > 0
    cfg = benchmark.default_cfg()
    (mode, t_vanilla, t_full), = benchmark.step_overhead(args, cfg, device)
    assert mode == "eager" and t_vanilla > 0 and t_full > 0


def test_paper_recipe_runs(monkeypatch):
    monkeypatch.setattr(benchmark, "PAPER_PAIRS", (("resnet18", "mobilenet_v2"),))  # a small pair, same code
    args = argparse.Namespace(steps=1, batch_size=2, img_size=32, modes=("eager",))
    (pair, mode, speed, first, memory), = benchmark.paper_recipe(args, benchmark.default_cfg(), torch.device("cpu"))
    assert (pair, mode, memory) == ("resnet18 -> mobilenet_v2", "eager", None) and speed > 0 and first > 0


def test_worker_throughput_at_the_paper_augmentation(tmp_path):
    args = argparse.Namespace(data_root=str(copy_voc_sample(tmp_path, per_split=3)), img_size=32)
    cfg = benchmark.default_cfg()
    assert benchmark.worker_throughput(args, cfg, images=3) > 0


def test_input_pipeline_runs_from_jpegs_and_from_the_cache(tmp_path):
    args = argparse.Namespace(data_root=str(copy_voc_sample(tmp_path, per_split=8)), img_size=32, batch_size=2,
                              workers=1, pipeline_steps=2)
    results = benchmark.input_pipeline(args, benchmark.default_cfg(), torch.device("cpu"))
    assert set(results) == {"JPEG decoding", "image cache"}
    assert all(from_loader > 0 and from_memory > 0 for from_loader, from_memory in results.values())
