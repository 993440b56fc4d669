"""A training step must not make the host wait for the device: no nonzero(), item() or
boolean-mask indexing between the forward pass and the optimizer step (issue 14)."""
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from models import build_model
from mpscd.distillers import DISTILLERS, build_distiller
from mpscd.trainer import build_optimizer

SYNCING_OPS = ("aten::nonzero", "aten::item", "aten::_local_scalar_dense")
# MPSCD gathers its positive set with nonzero(); its rewrite on dense masked tensors waits
# for its formulation to settle (issue 13).
NOT_YET_SYNC_FREE = {"mpscd"}


@pytest.mark.parametrize("name", sorted(DISTILLERS))
def test_a_training_step_does_not_synchronise(name):
    torch.manual_seed(0)
    student = build_model("resnet18", 5, 16, pretrained=False)
    teacher = build_model("resnet18", 5, 16, pretrained=False)
    distiller = build_distiller({"type": name}, student, teacher if DISTILLERS[name].needs_teacher else None)
    optimizer = build_optimizer(distiller.trainable_parameters(), 1e-3, 1e-4)
    images = torch.randn(6, 3, 32, 32)
    targets = torch.tensor([[1, 0, 1, 0, -1], [0, 1, 0, 0, 0], [1, 1, 0, 0, 0],
                            [0, 0, 0, 0, 0], [1, 0, 0, 1, 1], [0, 0, 1, 1, 0]], dtype=torch.float)
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
    if name in NOT_YET_SYNC_FREE:
        assert found, f"{name} is sync-free now: take it out of NOT_YET_SYNC_FREE"
        return
    assert not found, f"{name}: {found} in a training step"
    if torch.cuda.is_available():  # the device's own check: any synchronising call raises
        distiller.cuda()
        images, targets = images.cuda(), targets.cuda()
        torch.cuda.set_sync_debug_mode("error")
        try:
            forward_backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
