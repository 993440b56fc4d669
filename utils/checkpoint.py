import os
import pickle

import torch

from utils import UserError

UPGRADE = "python -m mpscd.checkpoint upgrade"


def save_checkpoint(state, path):
    """Write atomically: a kill during the save leaves the previous file intact."""
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def remove_partial_saves(folder):
    """Delete the temporary files of saves that a kill interrupted (SIGKILL, power loss):
    the checkpoint they were to replace is intact. Returns their paths."""
    stale = [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".pth.tmp")]
    for path in stale:
        os.remove(path)
    return stale


def load_checkpoint(path, map_location="cpu"):
    """A checkpoint of this program, read with torch's weights-only unpickler: a file that
    would need to run code to load (a crafted one, or one written by a version of this
    program before checkpoints held only plain types) is refused before anything of it runs."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" not in str(e):  # not a global the weights-only unpickler refused: not a pickle of ours
            raise UserError(f"{path} is not a readable checkpoint (the unpickler failed)") from None
        raise UserError(f"{path} would run code to load (a checkpoint of an earlier version of this program, "
                        f"or not one of its checkpoints); refused. Only for a file you trust: "
                        f"{UPGRADE} {path} NEW.pth") from None
    except Exception as e:  # any other failure means the file is not ours
        raise UserError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from None
    return checked(state, path)


def checked(state, path):
    """`state` if it is a checkpoint of this program, else a UserError naming `path`."""
    if not isinstance(state, dict) or "model" not in state or "arch" not in state:
        raise UserError(f"{path} is not a checkpoint written by this program "
                        "(expected a dict with 'model' and 'arch')")
    return state
