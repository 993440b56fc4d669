"""torch.distributed helpers; every function is a no-op (or trivial) in a single process."""
import os

import torch
import torch.distributed as dist


def is_distributed():
    return dist.is_available() and dist.is_initialized()


def rank():
    return dist.get_rank() if is_distributed() else 0


def world_size():
    return dist.get_world_size() if is_distributed() else 1


def is_main_process():
    return rank() == 0


def init_from_environment(device=None):
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK): NCCL on
    CUDA, gloo on the CPU. Returns the device this process uses."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")


_control_group = None


def control_group():
    """A gloo process group for small CPU tensors (flags every rank must agree on): under
    NCCL, a CPU collective needs it, and it keeps such agreement off the device's stream.
    Created on first use, which every rank reaches at the same point."""
    global _control_group
    if _control_group is None:
        _control_group = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
    return _control_group


def barrier():
    if is_distributed():
        dist.barrier(group=control_group())


def on_every_rank(flag):
    """Whether `flag` holds on every rank (a CPU all-reduce over gloo)."""
    if not is_distributed():
        return flag
    value = torch.tensor([int(flag)])
    dist.all_reduce(value, dist.ReduceOp.MIN, group=control_group())
    return bool(value)


def all_reduce_sum(*tensors):
    """Sum tensors over all ranks in place; returns them."""
    if is_distributed():
        for t in tensors:
            dist.all_reduce(t)
    return tensors


def all_gather_objects(obj):
    """The list of every rank's `obj` (a one-element list in a single process)."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def gather_rows(x):
    """Concatenate every rank's x along the first dimension (rank order), keeping the
    autograd graph: the gradient of each rank's rows flows back to that rank. Every rank's
    x has the same shape (training batches are full: drop_last), so no sizes are exchanged
    and the host does not wait. The functional collective also traces into a compiled graph
    (torch.distributed.nn's all_gather, which it replaces, is deprecated)."""
    if not is_distributed():
        return x
    from torch.distributed._functional_collectives import all_gather_single_autograd
    return all_gather_single_autograd(x, 0, dist.group.WORLD)
