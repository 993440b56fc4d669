import torch.distributed as dist


def is_distributed():
    return dist.is_available() and dist.is_initialized()


def all_reduce_sum(*tensors):
    """Sum tensors over all ranks in place (a no-op in a single process); returns them."""
    if is_distributed():
        for t in tensors:
            dist.all_reduce(t)
    return tensors
