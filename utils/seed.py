import os
import random

import numpy as np
import torch


def seed_everything(seed, deterministic=False):
    """Seed Python, NumPy and torch; `deterministic` also asks torch for
    bit-reproducible kernels (slower on CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True


def rng_state():
    """Every random generator's state, for exact resume, in types that torch.load reads
    with weights_only=True (tensors, numbers, strings, tuples, lists, dicts)."""
    state = {"python": random.getstate(), "numpy": portable_numpy_state(np.random.get_state()),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def portable_numpy_state(state):
    """NumPy's legacy RNG state tuple with its uint32 key array as an int64 tensor."""
    name, keys, position, has_gauss, cached_gaussian = state
    return (name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), position, has_gauss, cached_gaussian)


def set_rng_state(state):
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def worker_init_fn(worker_id):
    """Give each loader worker its own NumPy/Python stream derived from torch's seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
