"""Pretrain a 32 px backbone on a single-label task, as ImageNet pretrains the paper's
networks: python -m mpscd.pretrain --arch resnet20 [--out FILE] [options].

The task: 10-way classification of single handwritten digits, each drawn (random size,
colour, place, noise) on a 32 px canvas from the scans the demo's *training* images use,
never the test split's handwriting. The backbone learns with a linear classifier on its
pooled features; the file keeps the backbone's weights, which a config reads as
teacher_weights / student_weights. pretrained=True makes the file at the defaults on first
use (digits_weights) and starts the 32 px networks from it, as it starts the ImageNet
networks from their ImageNet weights."""
import argparse
import functools
import hashlib
import io
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from datasets.demo import compose_digit_images, digit_scans
from mpscd.engine.evaluation import network_input
from models import Backbone
from models.cifar import CIFAR_BACKBONES
from utils import UserError
from utils.run_lock import RunFolderBusy, RunLock
from utils.seed import rng_state, seed_everything, set_rng_state


@functools.lru_cache(maxsize=2)  # a run that makes the teacher's and the student's weights composes them once
def single_digits(count, seed, canvas=32):
    """uint8 images [count, 3, canvas, canvas] of one digit each, and the digits [count]
    (shared by the callers: read, never modify)."""
    images, targets = compose_digit_images(count, digit_scans("train"), canvas, np.random.default_rng([seed, 2]),
                                           digits=(1, 1), grid=3)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(targets.argmax(1))


DEFAULTS = dict(images=10000, epochs=3, lr=2e-3, batch_size=128, seed=0)
# Raised whenever a change to pretrain() changes the weights it makes at the same settings
# (2: NHWC), so that pretrained=True refuses a file an earlier version made.
RECIPE = 2


def pretrain(arch, images, epochs, lr, batch_size, seed, log=print):
    """The backbone trained on single digits and its accuracy on held-out images (as many,
    up to 2,000)."""
    if arch not in CIFAR_BACKBONES:
        raise UserError(f"mpscd.pretrain makes weights for the 32 px networks: {', '.join(CIFAR_BACKBONES)}")
    seed_everything(seed)
    x, y = single_digits(images, seed)
    x_val, y_val = single_digits(min(images, 2000), seed + 1)
    # NHWC: these small networks train 20-40 % faster in it on a CPU (float32, two threads)
    backbone = Backbone(arch).to(memory_format=torch.channels_last)
    classifier = torch.nn.Linear(backbone.out_channels, 10)
    parameters = [*backbone.parameters(), *classifier.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    steps = epochs * (images // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    forward = lambda batch: classifier(backbone(network_input(batch, "cpu", True)).mean((2, 3)))
    for epoch in range(epochs):
        tic, order = time.time(), torch.randperm(images)
        for i in range(images // batch_size):
            index = order[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(forward(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        log(f"epoch {epoch + 1}/{epochs}: loss {loss.item():.3f} ({time.time() - tic:.0f} s)")
    backbone.eval()
    with torch.no_grad():
        accuracy = sum((forward(x_val[i:i + 500]).argmax(1) == y_val[i:i + 500]).sum().item()
                       for i in range(0, len(x_val), 500)) / len(x_val)
    log(f"held-out accuracy {100 * accuracy:.1f}%")
    return backbone, accuracy


def save(backbone, accuracy, arch, out, **settings):
    """Write the backbone's weights whole or not at all (a killed run leaves no torn file;
    the part file is the process's own, so two makers never write into one file)."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    part = f"{out}.{os.getpid()}.part"
    try:
        # to a file object: torch.save names the archive inside after a path, and the bytes
        # (the logged sha256) must not depend on which process made the file
        with open(part, "wb") as f:
            # the network's own keys, as Backbone loads a weights file; the rest documents the file
            torch.save({"state_dict": backbone.body.state_dict(), "arch": arch, "task": "single digits, 10-way",
                        "accuracy": accuracy, "recipe": RECIPE, **settings}, f)
        os.replace(part, out)
    finally:
        if os.path.exists(part):
            os.remove(part)


def default_weights(arch):
    return os.path.join("work_dirs", "pretrained", f"{arch}_digits.pth")


def digits_weights(arch, log=print):
    """The file of `arch`'s weights at this module's defaults, what pretrained=True reads for
    a 32 px network: made on first use, by one process at a time (a table's concurrent
    students wait for the first to write it); refused if made with other settings."""
    path = os.path.abspath(default_weights(arch))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    waiting = False
    while not os.path.isfile(path):
        try:
            with RunLock(os.path.dirname(path), os.path.basename(path) + ".lock"):
                if not os.path.isfile(path):
                    _make(arch, path, log)
        except RunFolderBusy as busy:
            if not waiting:
                log(f"pretrained=True: waiting for another process to make {path} ({busy})")
                waiting = True
            time.sleep(1)
    with open(path, "rb") as f:
        data = f.read()  # read once: checked here, hashed for the log
    saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    needs = {**DEFAULTS, "recipe": RECIPE}
    made_with = {key: saved.get(key) for key in needs}
    if made_with != needs:
        raise UserError(f"{path} was made with {made_with}, pretrained=True needs {needs}: delete it to have "
                        "it made again, or give it as teacher_weights / student_weights")
    digest = hashlib.sha256(data).hexdigest()[:12]
    log(f"{arch} starts from {path} (single digits, held-out accuracy {100 * saved['accuracy']:.1f}%, "
        f"sha256 {digest})")
    return path


def _make(arch, path, log):
    """Pretrain at the defaults, then put back the process's random streams and cuDNN's
    autotuner flag, so that a run that makes the file trains as one that finds it."""
    log(f"pretrained=True: making {path} once (python -m mpscd.pretrain --arch {arch})")
    state, benchmark = rng_state(), torch.backends.cudnn.benchmark
    try:
        backbone, accuracy = pretrain(arch, **DEFAULTS, log=log)
    finally:
        set_rng_state(state)
        torch.backends.cudnn.benchmark = benchmark
    save(backbone, accuracy, arch, path, **DEFAULTS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, help=", ".join(CIFAR_BACKBONES))
    parser.add_argument("--out", help="weights file (default: work_dirs/pretrained/<arch>_digits.pth, "
                        "which pretrained=True reads)")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key}", type=type(value), default=value)
    args = parser.parse_args(argv)
    settings = {key: getattr(args, key) for key in DEFAULTS}
    if args.out is None and settings != DEFAULTS:
        raise UserError(f"other settings than the defaults ({DEFAULTS}) need --out: the default file is the one "
                        "pretrained=True reads")
    out = args.out or default_weights(args.arch)
    backbone, accuracy = pretrain(args.arch, **settings)
    save(backbone, accuracy, args.arch, out, **settings)
    print(f"wrote {out}: {args.arch}, held-out accuracy {100 * accuracy:.1f}%; use it with "
          f"--opts teacher_weights='{out}' (or student_weights)")
    return out


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
