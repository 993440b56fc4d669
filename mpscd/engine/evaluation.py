"""Scoring a model on a loader and turning the scores into metrics."""
import contextlib
import functools

import numpy as np
import torch

from datasets.transforms import normalize
from utils.distributed import all_gather_objects
from utils.metrics import multilabel_metrics


@functools.cache
def cpu_has_fast_bf16():
    """Whether oneDNN runs bfloat16 natively here (AVX-512 and newer): elsewhere it emulates
    it, and a mobilenet_v2 step took 3x longer than in float32 (AVX2 AMD EPYC)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cuda_amp_dtype(cfg):
    """The autocast dtype on CUDA (cfg amp_dtype): "auto" is bfloat16 where the GPU has it
    (compute capability 8.0 and later), which needs no GradScaler, else float16."""
    if cfg["amp_dtype"] == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}[cfg["amp_dtype"]]


def needs_grad_scaler(device, cfg):
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range, and
    the scaler's inf check would synchronise every step."""
    return device.type == "cuda" and cfg["amp"] and cuda_amp_dtype(cfg) == torch.float16


def autocast(device, cfg):
    """Mixed precision on CUDA (cfg amp, amp_dtype), bfloat16 on a CPU that runs it natively
    (cfg cpu_bf16), else nothing."""
    if device.type == "cuda" and cfg["amp"]:
        return torch.autocast("cuda", dtype=cuda_amp_dtype(cfg))
    if device.type == "cpu" and cfg["cpu_bf16"] and cpu_has_fast_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def channels_last(device, cfg):
    """Whether to use the NHWC layout: cfg channels_last "always", "never", or "auto": on CUDA,
    and on a CPU together with native bf16. "auto" keeps float32 on the CPU NCHW: there the
    ImageNet networks were no faster in NHWC, and on an AVX2 CPU (torch 2.14.1) the backward
    of a 1x1 stride-2 convolution over 3 channels in NHWC corrupts the heap (RepVGG's first
    block has one). The 32 px networks are faster in NHWC on a CPU (configs/_base_/demo.py
    says "always")."""
    if cfg["channels_last"] != "auto":
        return cfg["channels_last"] == "always"
    return device.type == "cuda" or (cfg["cpu_bf16"] and cpu_has_fast_bf16())


def network_input(images, device, channels_last=False):
    """A loader's uint8 batch as the networks read it: copied to `device` as uint8 and
    normalised there."""
    images = normalize(images.to(device, non_blocking=True))
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


@torch.inference_mode()
def predict(model, loader, device, cfg, max_batches=None):
    """Sigmoid scores [N, C] (float32), targets [N, C] and dataset indices [N]."""
    model.eval()
    scores, targets, indices = [], [], []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        with autocast(device, cfg):
            logits = model(network_input(batch["image"], device, channels_last(device, cfg)))["logits"]
        scores.append(torch.sigmoid(logits.float()).cpu())
        targets.append(batch["target"])
        indices.append(torch.as_tensor(batch["index"]))
    return torch.cat(scores).numpy(), torch.cat(targets).numpy(), torch.cat(indices).numpy()


def evaluate(model, loader, device, cfg, max_batches=None):
    """Metrics on the whole test set: under torch.distributed each rank scores its shard
    and the shards are gathered (each image once) before the metrics are computed."""
    shards = all_gather_objects(predict(model, loader, device, cfg, max_batches))
    scores, targets, indices = (np.concatenate(parts) for parts in zip(*shards))
    order = np.argsort(indices, kind="stable")
    return multilabel_metrics(scores[order], targets[order], cfg["eval_threshold"])


def summary(metrics):
    """One line of the headline numbers."""
    keys = ("mAP", "CF1_topk", "OF1_topk", "CF1_threshold", "OF1_threshold")
    return "  ".join(f"{k} {metrics[k]:.2f}" for k in keys if k in metrics and np.isfinite(metrics[k]))
