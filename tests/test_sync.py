"""A training step must not make the host wait for the device: no nonzero(), item() or
boolean-mask indexing between the forward pass and the optimizer step."""
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from models import build_model
from mpscd.methods import DISTILLERS, build_distiller
from mpscd.engine.trainer import build_optimizer

SYNCING_OPS = ("aten::nonzero", "aten::item", "aten::_local_scalar_dense")
# every distiller at its defaults, and MPSCD's other relations and options
SPECS = [{"type": name} for name in sorted(DISTILLERS)] + [
    {"type": "mpscd", "s2s_relations": "all", "s2p_relations": "prototypes", "s2p_negatives": True,
     "pcrd_positives": "class", "logit_temperature": 4.0},
    {"type": "mpscd", "prototype_init": "first_batch", "structure_grad_cap": 0.0},
    {"type": "mpscd", "s2s_relations": "supcon", "s2p_relations": "contrast_mse",
     "structure_schedule": ((0.0, 0.0), (0.2, 1.0))}]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: "-".join(map(str, spec.values())))
def test_a_training_step_does_not_synchronise(spec):
    torch.manual_seed(0)
    student = build_model("resnet18", 5, 16, pretrained=False)
    teacher = build_model("resnet18", 5, 16, pretrained=False)
    distiller = build_distiller(spec, student, teacher if DISTILLERS[spec["type"]].needs_teacher else None)
    optimizer = build_optimizer(distiller.trainable_parameters(), 1e-3, 1e-4)
    images = torch.randn(6, 3, 32, 32)
    targets = torch.tensor([[1, 0, 1, 0, -1], [0, 1, 0, 0, 0], [1, 1, 0, 0, 0],
                            [0, 0, 0, 0, 0], [1, 0, 0, 1, 1], [0, 0, 1, 1, 0]], dtype=torch.float)
    distiller.see_training_labels(targets)  # as a run does: PCRD's heads on 3 of the 5 pairs per image
    forward_backward = lambda: sum(distiller(images, targets).values()).backward()
    distiller.train()
    forward_backward()  # prototype banks initialise on the first step
    optimizer.step()
    optimizer.zero_grad()
    # Adam's own step counter is read on the host, but it lives there (not capturable), so
    # the profiled span ends at the backward pass.
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward_backward()
    found = sorted({event.key for event in prof.key_averages() if event.key in SYNCING_OPS})
    assert not found, f"{spec}: {found} in a training step"
    if torch.cuda.is_available():  # the device's own check: any synchronising call raises
        distiller.cuda()
        images, targets = images.cuda(), targets.cuda()
        torch.cuda.set_sync_debug_mode("error")
        try:
            forward_backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
