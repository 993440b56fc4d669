"""Data-parallel training with torch.distributed (gloo, 2 CPU processes)."""
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from models import build_model
from mpscd.engine.data import ShardSampler, make_test_loader
from mpscd.methods import build_distiller
from mpscd.engine.evaluation import evaluate
from mpscd.methods.mpscd.terms import s2s_loss
from mpscd.engine.trainer import LossSums, build_optimizer
from utils.distributed import gather_rows

CFG = {"amp": False, "cpu_bf16": False, "channels_last": "never", "eval_threshold": 0.5}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_randomness(model):
    """Dropout and stochastic depth off, so that runs differ only by how the batch is split."""
    for m in model.modules():
        for name in ("p", "dropout", "attention_dropout"):  # Dropout, StochasticDepth, attention
            if isinstance(getattr(m, name, None), float):
                setattr(m, name, 0.0)
    return model


def batches(steps=3, global_batch=8, classes=5, size=32):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(global_batch, 3, size, size, generator=g),
             (torch.rand(global_batch, classes, generator=g) < 0.4).float()) for _ in range(steps)]


def train_weights(world, rank):
    """swin_t (no BatchNorm) trained 3 SGD steps on the global batches; returns its weights.
    (SGD: Adam's first steps are lr * sign(gradient), which turns rounding noise in
    near-zero gradients into lr-sized differences and would hide what is tested.)"""
    torch.manual_seed(0)
    distiller = build_distiller({"type": "vanilla"}, no_randomness(build_model("swin_t", 5, embed_dim=32)))
    model = DistributedDataParallel(distiller) if world > 1 else distiller
    optimizer = torch.optim.SGD([p for _, p in distiller.trainable_parameters()], lr=0.1)
    for images, targets in batches():
        local = slice(rank * len(images) // world, (rank + 1) * len(images) // world)
        loss = sum(model(images[local], targets[local]).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {k: v.clone() for k, v in distiller.student.state_dict().items()}


class Images(torch.utils.data.Dataset):
    def __init__(self, n=13, classes=5):
        g = torch.Generator().manual_seed(1)
        self.images = torch.randn(n, 3, 32, 32, generator=g)
        self.targets = (torch.rand(n, classes, generator=g) < 0.4).float()

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "target": self.targets[i], "index": i}


def gathered_s2s(rank, world, batch=6, compiled=False):
    """S2S over every rank's batch (gather_rows): the loss and this rank's gradient
    (divided by world, as DDP's averaging does) for its slice of a fixed batch. compiled:
    traced by torch.compile as compile = True traces the distillation terms (aot_eager:
    the same graph without inductor's C++ compilation)."""
    g = torch.Generator().manual_seed(3)
    embeddings = torch.randn(batch, 4, 8, generator=g)
    labels = (torch.rand(batch, 4, generator=g) < 0.5).float()
    rows = slice(rank * batch // world, (rank + 1) * batch // world)
    local = embeddings[rows].clone().requires_grad_(True)

    def gathered_loss(local):
        return s2s_loss(gather_rows(local), gather_rows(local.detach() * 2 + 1), gather_rows(labels[rows]), 0.1)
    loss = (torch.compile(gathered_loss, backend="aot_eager") if compiled else gathered_loss)(local)
    loss.backward()
    return loss.item(), (local.grad / world).numpy()


def scoring_net():
    torch.manual_seed(5)
    return build_model("resnet18", 5, embed_dim=16)


def worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        # 1. prototype banks identical on every rank after every step, local batches differing
        torch.manual_seed(0)
        distiller = build_distiller({"type": "mpscd", "prototype_init": "first_batch"},
                                    build_model("resnet18", 5, embed_dim=16), build_model("resnet18", 5, embed_dim=24))
        model = DistributedDataParallel(distiller)
        optimizer = build_optimizer(distiller.trainable_parameters(), 1e-3, 0.0)
        for images, targets in batches(global_batch=6):
            local = slice(rank * 3, rank * 3 + 3)
            loss = sum(model(images[local], targets[local]).values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for bank in (distiller.bank_s, distiller.bank_t):
                gathered = [torch.zeros_like(bank.prototypes) for _ in range(world)]
                dist.all_gather(gathered, bank.prototypes)
                assert all(torch.equal(gathered[0], g) for g in gathered), "banks differ across ranks"
        # 2. sharded evaluation sees each test image exactly once (13 images, 2 ranks)
        dataset = Images()
        loader = make_test_loader(dataset, 4, 0, rank, world)
        metrics = evaluate(scoring_net(), loader, torch.device("cpu"), CFG)
        # 3. gathered contrast, eager and compiled: the loss of the whole batch, each rank's gradient its share
        gathered = [gathered_s2s(rank, world, compiled=compiled) for compiled in (False, True)]
        # 4. final student weights under DDP
        weights = train_weights(world, rank)
        # 5. a non-finite loss on one rank stops every rank (none saves the NaN weights)
        sums = LossSums(first_unchecked=1)
        sums.add({"bce": torch.tensor(float("nan") if rank == 1 else 1.0)})
        window = sums.unchecked_window(iteration=4)
        out.put((rank, metrics, {k: v.numpy() for k, v in weights.items()}, gathered, window))
    finally:
        dist.destroy_process_group()


def test_two_processes_match_one():
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=worker, args=(r, 2, port, out)) for r in range(2)]
    for p in procs:
        p.start()
    results = sorted([out.get(timeout=280) for _ in range(2)], key=lambda r: r[0])
    _, metrics, weights, _, _ = results[0]
    assert [window for *_, window in results] == ["iterations 1-4"] * 2
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    single = evaluate(scoring_net(), make_test_loader(Images(), 4, 0), torch.device("cpu"), CFG)
    assert metrics.keys() == single.keys()
    for key in single:
        np.testing.assert_allclose(metrics[key], single[key], rtol=1e-6)
    loss, grad = gathered_s2s(0, 1)
    for mode in (0, 1):  # eager, compiled
        shares = [gathered[mode] for _, _, _, gathered, _ in results]
        assert all(rank_loss == pytest.approx(loss, rel=1e-5) for rank_loss, _ in shares)
        assert np.allclose(np.concatenate([rank_grad for _, rank_grad in shares]), grad, atol=1e-6)
    reference = train_weights(1, 0)
    worst = max((torch.from_numpy(weights[k]) - reference[k]).abs().max().item() for k in reference)
    assert worst < 1e-5, worst


def test_shards_cover_every_index_once():
    for size in (10, 13):
        seen = sorted(i for r in range(3) for i in ShardSampler(size, r, 3))
        assert seen == list(range(size))


def test_resume_under_torchrun_gives_identical_results(tmp_path, torchrun_reference):
    """Two gloo processes through torchrun and main.py: SIGKILLed (launcher and both ranks)
    once the student's first checkpoint exists, resumed, they end as an uninterrupted run."""
    import signal
    import subprocess
    import time
    from test_reliability import ONE_THREAD, assert_same_student, final_metrics, torchrun_command

    killed = tmp_path / "killed"
    proc = subprocess.Popen(torchrun_command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=ONE_THREAD)
    deadline = time.time() + 120
    while not os.path.exists(killed / "student_last.pth") and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    # the launcher and both ranks, found by the run folder in their command lines (torchrun
    # starts each rank in a process group of its own: a group kill would miss them)
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if str(killed).encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass
    proc.wait()
    assert not os.path.exists(killed / "results.json")
    subprocess.run([*torchrun_command(killed), "--resume"], check=True, capture_output=True, env=ONE_THREAD)
    assert "resumed from" in (killed / "log.txt").read_text()
    assert final_metrics(killed) == final_metrics(torchrun_reference.finished())
    assert_same_student(killed, torchrun_reference.finished())
