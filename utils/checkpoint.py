import os

import torch

from utils import UserError


def save_checkpoint(state, path):
    """Write atomically: a kill during the save leaves the previous file intact."""
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, map_location="cpu"):
    if not os.path.isfile(path):
        raise UserError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # any unpickling failure means the file is not ours
        raise UserError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or "model" not in state or "arch" not in state:
        raise UserError(f"{path} is not a checkpoint written by this program "
                        "(expected a dict with 'model' and 'arch')")
    return state
