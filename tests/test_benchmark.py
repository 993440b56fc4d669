"""The benchmark's measurements run (at toy sizes: the numbers it prints are not tested)."""
import argparse

import torch

from conftest import copy_voc_sample
from mpscd import benchmark, benchmark_terms


def test_loss_terms_run_on_all_pairs_and_on_k_pairs_also_gathered():
    device = torch.device("cpu")
    t_dense, t_loop, positives = benchmark_terms.against_loop(1, device, B=4, C=5, D=8)
    assert t_dense > 0 and t_loop > 0 and positives > 0
    rows = list(benchmark_terms.formulations(1, device, B=4, C=5, D=8))
    assert [name for name, *_ in rows] == list(benchmark_terms.FORMULATIONS)
    assert all(t_all > 0 and t_k > 0 and 1 <= k <= 5 for _, t_all, t_k, k in rows)
    k, rows = benchmark_terms.gathered(1, device, ranks=2, B=4, C=5, D=8)
    assert [name for name, *_ in rows] == list(benchmark_terms.FORMULATIONS) and 1 <= k <= 5
    assert all(seconds > 0 and memory >= 0 for _, seconds, memory in rows)


def test_step_overhead_runs_on_the_default_mpscd():
    args = argparse.Namespace(steps=1, batch_size=2, img_size=32, modes=("eager",))
    device = torch.device("cpu")
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
