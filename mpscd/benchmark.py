"""Performance benchmark: python -m mpscd.benchmark [--data_root VOC_SAMPLE] [--device cuda].

Prints, with ratios:
1. a full MPSCD step against a vanilla distillation step (teacher forward without
   gradient + student forward/backward + BCE + optimizer step), resnet50 -> resnet18;
2. the MPSCD loss terms alone (forward + backward, projection heads included) at COCO
   scale against a straightforward per-class Python loop, and each formulation on all
   pairs and on each image's k pairs, also gathered from 4 ranks (mpscd.benchmark_terms,
   which prints these alone);
3. what one loader worker delivers, and the training input pipeline (the real loader,
   decoding JPEGs or from the image cache) against the same steps fed from tensors already
   in memory (needs --data_root; --pipeline_only for these alone, e.g. at the paper's
   --img_size 224 --batch_size 64);
4. peak memory (CPU max RSS; CUDA max allocated).

--modes compiled (or both) times the steps of 1. with compile = True (torch.compile of the
backbones and of the distillation terms; the compiling steps untimed).

With --recipe paper, instead: images/s of a full MPSCD step (the distiller's defaults) for the four
seed pairs at the paper's 224 px and batch 64, eager and with compile = True (the first
step, which compiles, is timed apart), and each one's peak GPU memory; with --data_root
also what one loader worker delivers at that recipe (read, decode, RandAugment, Cutout;
one thread) and so how many workers the fastest pair needs.
"""
import argparse
import math
import resource
import time

import torch

from models import build_model
from mpscd import benchmark_terms
from mpscd.benchmark_terms import timed, timed_alternately
from mpscd.engine.config import SCHEMA
from mpscd.methods.mpscd import MPSCD
from mpscd.engine.evaluation import (autocast, channels_last, cpu_has_fast_bf16, cuda_amp_dtype, needs_grad_scaler,
                              network_input)
from mpscd.engine.trainer import build_optimizer


def make_step(distiller, cfg, device, next_batch):
    """One optimisation step of `distiller` per call, on the batch `next_batch()` returns."""
    optimizer = build_optimizer(distiller.trainable_parameters(), 1e-4, 1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=needs_grad_scaler(device, cfg))
    distiller.train()

    def step():
        batch = next_batch()
        images = network_input(batch["image"], device, channels_last(device, cfg))
        targets = batch["target"].to(device, non_blocking=True)
        with autocast(device, cfg):
            loss = sum(distiller.forward_train(images, targets).values())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return step


def endless(batches):
    while True:
        yield from batches


def random_batches(n, batch_size, num_classes, img_size, labels_per_image, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        targets = (torch.rand(batch_size, num_classes, generator=g) < labels_per_image / num_classes).float()
        images = torch.randint(256, (batch_size, 3, img_size, img_size), dtype=torch.uint8, generator=g)
        out.append({"image": images, "target": targets})
    return out


def build_pair(teacher, student, training_labels, device, cfg, **mpscd_options):
    torch.manual_seed(0)
    num_classes = training_labels.shape[1]
    distiller = MPSCD(build_model(student, num_classes), build_model(teacher, num_classes),
                      prototype_init="first_batch", **mpscd_options).to(device)
    distiller.see_training_labels(training_labels)  # as a run does
    return distiller.to(memory_format=torch.channels_last) if channels_last(device, cfg) else distiller


def step_overhead(args, cfg, device):
    """Per mode in args.modes: (mode, seconds of a vanilla distillation step, seconds of a full
    MPSCD step), medians of the two timed in turn."""
    batches = random_batches(4, args.batch_size, 20, args.img_size, 1.5)
    labels = torch.cat([batch["target"] for batch in batches])
    vanilla = build_pair("resnet50", "resnet18", labels, device, cfg, lambda_pcrd=0.0, lambda_s2s=0.0, lambda_s2p=0.0,
                         lambda_mld=0.0)
    full = build_pair("resnet50", "resnet18", labels, device, cfg)
    for mode in args.modes:
        if mode == "compiled":  # the first two steps, which compile, are the untimed warm-up
            for distiller in (vanilla, full):
                distiller.compile_for_training(channels_last(device, cfg))
        steps = [make_step(distiller, cfg, device, endless(batches).__next__) for distiller in (vanilla, full)]
        yield mode, *timed_alternately(steps, args.steps, device=device)


PAPER_PAIRS = (("resnet50", "resnet18"), ("wrn101", "wrn50"), ("repvgg_a2", "repvgg_a0"), ("swin_t", "mobilenet_v2"))


def paper_recipe(args, cfg, device):
    """Per seed pair and mode: (images/s, seconds of the first step, peak CUDA MiB or None)."""
    batches = random_batches(2, args.batch_size, 20, args.img_size, 1.5)
    labels = torch.cat([batch["target"] for batch in batches])
    for teacher, student in PAPER_PAIRS:
        distiller = build_pair(teacher, student, labels, device, cfg)
        for mode in args.modes:
            if mode == "compiled":
                distiller.compile_for_training(channels_last(device, cfg))
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            step = make_step(distiller, cfg, device, endless(batches).__next__)
            first = timed(step, 1, warmup=0, device=device)
            seconds = timed(step, args.steps, warmup=1, device=device)
            memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
            yield f"{teacher} -> {student}", mode, args.batch_size / seconds, first, memory


def default_cfg():
    """Every config key at its default (SCHEMA), as a run without a config file would have."""
    return {key: default for key, (default, _) in SCHEMA.items()}


def voc_train_set(args, cfg, cache_images):
    """The VOC sample's training split under `cfg`'s training transform at args.img_size."""
    from datasets import build_dataset
    data_cfg = {**cfg, "dataset": "voc", "data_root": args.data_root, "img_size": args.img_size,
                "cache_images": cache_images}
    return build_dataset(data_cfg, "train", log=lambda *a: None)


def input_pipeline(args, cfg, device):
    """images/s of `pipeline_steps` student steps fed by the real training loader (a new
    epoch's pass, its persistent workers already started) vs the same batches in memory."""
    from mpscd.engine.data import make_train_loader
    datasets = {cache: voc_train_set(args, cfg, cache) for cache in (False, True)}
    distiller = build_pair("resnet50", "resnet18", datasets[False].targets, device, cfg)
    steps, results = args.pipeline_steps, {}
    for cache, dataset in datasets.items():
        loader = make_train_loader(dataset, args.batch_size, args.workers, seed=0)
        in_memory = [batch for _, batch in zip(range(steps), loader)]
        from_memory = make_step(distiller, cfg, device, endless(in_memory).__next__)
        t_memory = timed(lambda: [from_memory() for _ in range(steps)], 1, warmup=1, device=device)
        from_loader = make_step(distiller, cfg, device, endless(loader).__next__)
        t_loader = timed(lambda: [from_loader() for _ in range(steps)], 1, warmup=0, device=device)
        images = steps * args.batch_size
        results["image cache" if cache else "JPEG decoding"] = (images / t_loader, images / t_memory)
    return results


def worker_throughput(args, cfg, images=200):
    """images/s of one loader worker: samples read, decoded and augmented one at a time
    (the training transform of `cfg`, no image cache) in this process on one thread."""
    dataset = voc_train_set(args, cfg, cache_images=False)
    images = min(images, len(dataset))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker
    try:
        tic = time.perf_counter()
        for i in range(images):
            dataset[i]
        return images / (time.perf_counter() - tic)
    finally:
        torch.set_num_threads(threads)


def peak_memory(device):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = f"peak CPU RSS {rss:.0f} MiB"
    if device.type == "cuda":
        text += f", CUDA max allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB"
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--recipe", choices=("default", "paper"), default="default",
                        help="paper: the four seed pairs at 224 px, batch 64, eager and compiled")
    parser.add_argument("--img_size", type=int, help="default 128 (224 with --recipe paper)")
    parser.add_argument("--batch_size", type=int, help="default 32 (64 with --recipe paper)")
    parser.add_argument("--modes", choices=("eager", "compiled", "both"),
                        help="the step figures eager, with compile = True, or both; default: eager (both with "
                             "--recipe paper)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement (median)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data_root", help="the VOC 2007 sample, for the input-pipeline figures")
    parser.add_argument("--pipeline_steps", type=int, default=30, help="steps per input-pipeline measurement")
    parser.add_argument("--pipeline_only", action="store_true", help="only the input-pipeline figures (3.)")
    parser.add_argument("--no_bf16", action="store_true", help="float32 on the CPU (bf16 autocast is the default)")
    args = parser.parse_args(argv)
    if args.pipeline_only and (args.recipe == "paper" or not args.data_root):
        parser.error("--pipeline_only needs --data_root and the default recipe "
                     "(--img_size 224 --batch_size 64 for the paper's sizes)")
    paper = args.recipe == "paper"
    args.img_size = args.img_size or (224 if paper else 128)
    args.batch_size = args.batch_size or (64 if paper else 32)
    args.modes = args.modes or ("both" if paper else "eager")
    args.modes = ("eager", "compiled") if args.modes == "both" else (args.modes,)
    device = torch.device(args.device)
    cfg = default_cfg()
    cfg["cpu_bf16"] = not args.no_bf16
    precision = f"{str(cuda_amp_dtype(cfg)).split('.')[-1]} autocast" if device.type == "cuda" else (
        "bf16 autocast" if cfg["cpu_bf16"] and cpu_has_fast_bf16() else "float32")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    layout = "channels_last" if channels_last(device, cfg) else "NCHW"
    print(f"device: {name}; {precision}; {layout}; batch {args.batch_size}, {args.img_size} px, 20 classes")
    if paper:
        fastest = 0.0
        for pair, mode, speed, first, memory in paper_recipe(args, cfg, device):
            peak = f", peak CUDA memory {memory:.0f} MiB" if memory is not None else ""
            print(f"{pair}, {mode}: {speed:.1f} img/s (first step {first:.1f} s){peak}", flush=True)
            fastest = max(fastest, speed)
        if args.data_root:
            per_worker = worker_throughput(args, cfg)
            augment = ", ".join(f"{k}={v}" for k, v in cfg["augment"].items())
            print(f"one loader worker at {args.img_size} px ({augment}): {per_worker:.0f} img/s; "
                  f"the fastest pair above needs {math.ceil(fastest / per_worker)} workers")
        print(peak_memory(device))
        return

    if not args.pipeline_only:
        for mode, t_vanilla, t_full in step_overhead(args, cfg, device):
            print(f"1. step, resnet50 -> resnet18, {mode}: vanilla distillation {1000 * t_vanilla:.0f} ms, "
                  f"full MPSCD {1000 * t_full:.0f} ms, ratio {t_full / t_vanilla:.3f} (target <= 1.05)", flush=True)
        t_vec, t_loop, n_pos = benchmark_terms.against_loop(max(args.steps, 5), device)
        print(f"2. MPSCD loss terms fwd+bwd at B=64, C=80, D=768, {n_pos} positives: vectorised "
              f"{1000 * t_vec:.1f} ms, per-class loop {1000 * t_loop:.0f} ms, speed-up {t_loop / t_vec:.0f}x "
              "(target >= 10x)")
        benchmark_terms.report(max(args.steps, 5), device)
    if args.data_root:
        print(f"3. one loader worker at {args.img_size} px: {worker_throughput(args, cfg):.0f} img/s "
              "(read, decode, augment; one thread)")
        for source, (loader_speed, memory_speed) in input_pipeline(args, cfg, device).items():
            print(f"3. input pipeline ({source}, {args.workers} workers): {loader_speed:.0f} img/s from the loader, "
                  f"{memory_speed:.0f} img/s from memory, ratio {loader_speed / memory_speed:.2f} (target >= 0.90)")
    print(f"4. {peak_memory(device)}")


if __name__ == "__main__":
    main()
