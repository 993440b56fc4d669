"""Export a trained network for deployment:
python -m mpscd.export --checkpoint work_dirs/RUN/student_last.pth --output student.pt2

RepVGG backbones are fused into their deploy form first; the result is a torch.export
program (any batch size) mapping images [B, 3, S, S] to logits [B, C]; load it with
torch.export.load(path).module(). The export is checked: its logits must equal the
checkpoint's within --atol on random input, or nothing is written."""
import argparse
import sys

import torch
from torch import nn

from mpscd.engine.runner import load_network
from utils import UserError


class LogitsOnly(nn.Module):
    """The deployed function: images -> logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images):
        return self.model(images)["logits"]


def export(model, img_size, output, atol=1e-4):
    """Fuse, trace, check against the unfused checkpoint model, save. Returns the max error."""
    model.eval()
    inputs = [torch.randn(2, 3, img_size, img_size), torch.randn(3, 3, img_size, img_size)]
    with torch.inference_mode():
        expected = [model(x)["logits"] for x in inputs]
    deployed = LogitsOnly(model.fuse()).eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(deployed, (inputs[0],), dynamic_shapes={"images": {0: batch}})
    with torch.no_grad():
        error = max((program.module()(x) - e).abs().max().item() for x, e in zip(inputs, expected))
    if error > atol:
        raise UserError(f"the exported model differs from the checkpoint by {error:.2e} (> {atol}); nothing written")
    torch.export.save(program, output)
    return error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--img_size", type=int, help="default: the checkpoint's training size")
    parser.add_argument("--atol", type=float, default=1e-4)
    args = parser.parse_args(argv)
    model, state = load_network(args.checkpoint, with_state=True)
    error = export(model, args.img_size or state["config"]["img_size"], args.output, args.atol)
    print(f"wrote {args.output} ({state['arch']}, {state['num_classes']} classes); "
          f"max |logit difference| to the checkpoint {error:.2e}")


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
