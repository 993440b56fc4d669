"""Convert a checkpoint written by an earlier version of this program (random states held
as NumPy arrays, which only the full unpickler reads) into the current weights-only form:

    python -m mpscd.checkpoint upgrade OLD.pth NEW.pth

Loading OLD.pth runs the unpickler that can execute code stored in the file: do this only
for files you trust (your own runs)."""
import argparse
import sys

import torch

from utils import UserError
from utils.checkpoint import checked, load_checkpoint, save_checkpoint
from utils.seed import portable_numpy_state


def upgrade(old_path, new_path):
    state = checked(torch.load(old_path, map_location="cpu", weights_only=False), old_path)  # a trusted file
    numpy_state = state.get("rng", {}).get("numpy")
    if numpy_state is not None and not isinstance(numpy_state[1], torch.Tensor):
        state["rng"]["numpy"] = portable_numpy_state(numpy_state)
    save_checkpoint(state, new_path)
    load_checkpoint(new_path)  # the result must load the safe way


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("upgrade", help="convert OLD (trusted) into NEW, loadable with weights_only=True")
    command.add_argument("old")
    command.add_argument("new")
    args = parser.parse_args(argv)
    upgrade(args.old, args.new)
    print(f"wrote {args.new}")


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
