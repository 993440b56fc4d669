import copy
import os

import pytest
import torch

from models import BACKBONES, build_model
from mpscd.engine.config import load_config
from mpscd.methods import build_distiller
from utils import UserError


@pytest.mark.parametrize("arch", list(BACKBONES))
def test_every_backbone_returns_the_three_outputs(arch):
    model = build_model(arch, 20, embed_dim=768).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["logits"].shape == (2, 20)
    assert out["embeddings"].shape == (2, 20, 768)
    assert out["feature"].shape == (2, model.backbone.out_channels)


@pytest.mark.parametrize("arch", ["repvgg_a0", "repvgg_a2"])
def test_repvgg_fusion_gives_the_same_outputs(arch):
    torch.manual_seed(0)
    model = build_model(arch, 20, embed_dim=64)
    model.train()
    with torch.no_grad():  # give BatchNorm non-trivial statistics
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64) * 2 + 0.5)
    model.eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        model.fuse()
        after = model(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.backbone.modules())
    for key in before:
        assert torch.allclose(before[key], after[key], atol=1e-4), key


def test_missing_imagenet_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(UserError, match=r"resnet18-f37072fd\.pth.*checkpoints"):
        build_model("resnet18", 20, pretrained=True)
    with pytest.raises(UserError, match=r"RepVGG-A0-train\.pth"):
        build_model("repvgg_a0", 20, pretrained=True)


def test_pretrained_weights_load_from_the_cache_and_from_a_path(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    import torchvision
    reference = torchvision.models.resnet18()
    (tmp_path / "checkpoints").mkdir()
    torch.save(reference.state_dict(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    model = build_model("resnet18", 20, pretrained=True)
    assert torch.equal(model.backbone.body[0].weight, reference.conv1.weight)
    from models.repvgg import repvgg_a0
    official = repvgg_a0()
    torch.save({**official.state_dict(), "linear.weight": torch.zeros(1000, 1280)}, tmp_path / "a0.pth")
    model = build_model("repvgg_a0", 20, weights_path=str(tmp_path / "a0.pth"))
    assert torch.equal(model.backbone.body.stage0.rbr_dense.conv.weight, official.stage0.rbr_dense.conv.weight)


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(UserError, match="resnet18.*repvgg_a2"):
        build_model("resnet9", 20)


def test_compile_gives_the_eager_losses_and_gradients():
    """compile = True (torch.compile of both backbones and of the distillation terms, the
    heads eager) on a tiny pair: one step of MPSCD at full strength equal to eager within
    float tolerance."""
    torch.manual_seed(0)
    eager = build_distiller({"type": "mpscd"}, build_model("resnet8", 4, 16), build_model("resnet8", 4, 24))
    # prototypes from a pass over other images: residuals from this batch's own prototypes
    # would be rounding noise for a class with one positive
    eager.prepare([{"image": torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8),
                    "target": torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]])}],
                  torch.device("cpu"))
    eager.train()
    compiled = copy.deepcopy(eager)
    compiled.compile_for_training(channels_last=False)
    images, targets = torch.randn(3, 3, 32, 32), torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, -1]])
    results = []
    for distiller in (eager, compiled):
        torch.manual_seed(1)  # the heads' dropout draws alike
        terms = distiller(images, targets)
        sum(terms.values()).backward()
        results.append((terms, next(distiller.student.backbone.parameters()).grad))
    (eager_terms, eager_grad), (compiled_terms, compiled_grad) = results
    assert eager_terms.keys() == compiled_terms.keys()
    for k in eager_terms:
        assert compiled_terms[k].item() == pytest.approx(eager_terms[k].item(), rel=2e-3, abs=1e-5), k
    relative_error = (compiled_grad - eager_grad).norm() / eager_grad.norm()
    assert relative_error < 5e-3  # inductor reorders the convolutions' and BatchNorm's sums


def ml_decoder_reference(head, feature_map):
    """ML-Decoder's forward in eval mode, written from its definition with the head's
    parameters: relu(Linear) tokens; per query: LayerNorm(2q), multi-head cross-attention
    with post-norm residual, ReLU feed-forward with post-norm residual; group FC."""
    layer, D = head.decoder, head.queries.shape[1]
    heads = layer.cross_attn.num_heads
    tokens = torch.relu(feature_map.flatten(2).transpose(1, 2) @ head.input_proj.weight.T + head.input_proj.bias)
    norm = lambda m, x: torch.nn.functional.layer_norm(x, (D,), m.weight, m.bias, m.eps)
    w_q, w_k, w_v = layer.cross_attn.in_proj_weight.chunk(3)
    b_q, b_k, b_v = layer.cross_attn.in_proj_bias.chunk(3)
    embeddings = []
    for image_tokens in tokens:
        x = norm(layer.norm1, 2 * head.queries)                           # [C, D]
        split = lambda y: y.reshape(len(y), heads, D // heads).transpose(0, 1)  # [heads, n, D/heads]
        q, k, v = split(x @ w_q.T + b_q), split(image_tokens @ w_k.T + b_k), split(image_tokens @ w_v.T + b_v)
        attention = torch.softmax(q @ k.transpose(1, 2) / (D // heads) ** 0.5, dim=-1)
        attended = (attention @ v).transpose(0, 1).reshape(len(x), D)
        attended = attended @ layer.cross_attn.out_proj.weight.T + layer.cross_attn.out_proj.bias
        x = norm(layer.norm2, x + attended)
        hidden = torch.relu(x @ layer.linear1.weight.T + layer.linear1.bias)
        x = norm(layer.norm3, x + hidden @ layer.linear2.weight.T + layer.linear2.bias)
        embeddings.append(x)
    embeddings = torch.stack(embeddings)
    logits = torch.einsum("bcd,cd->bc", embeddings, head.class_weight) + head.class_bias
    return logits, embeddings


def test_head_is_ml_decoder():
    """The head against ML-Decoder written from its definition (eval mode), and its
    defining properties: fixed queries (a buffer no optimizer step moves) and no attention
    between classes (class c's embedding ignores every other class's query)."""
    torch.manual_seed(0)
    model = build_model("resnet18", 5, embed_dim=32)
    head = model.head.eval()
    assert "queries" not in dict(head.named_parameters()) and "queries" in head.state_dict()
    feature_map = torch.randn(3, model.backbone.out_channels, 4, 3)
    logits, embeddings = head(feature_map)
    ref_logits, ref_embeddings = ml_decoder_reference(head, feature_map)
    assert torch.allclose(embeddings, ref_embeddings, atol=1e-5)
    assert torch.allclose(logits, ref_logits, atol=1e-5)
    assert head.class_weight.std().item() == pytest.approx((2 / (32 + 5)) ** 0.5, rel=0.3)  # xavier normal
    assert torch.equal(head.class_bias, torch.zeros(5))

    changed = head.queries.clone()
    changed[[0, 1, 3, 4]] = torch.randn(4, 32)
    with torch.no_grad():
        original = head.queries.clone()
        head.queries.copy_(changed)
        _, moved = head(feature_map)
        head.queries.copy_(original)
    assert torch.allclose(moved[:, 2], embeddings[:, 2], atol=1e-6)
    assert not torch.allclose(moved[:, 0], embeddings[:, 0], atol=1e-3)

    head.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(2, 3, 32, 32))["logits"].sum().backward()
    optimizer.step()
    assert torch.equal(head.queries, original)


def test_cached_teacher_outputs_are_the_teachers_and_unknown_images_run_it():
    from mpscd.engine.evaluation import network_input
    torch.manual_seed(0)
    distiller = build_distiller({"type": "mld"}, build_model("resnet8", 4, 16), build_model("resnet8", 4, 24, ffn_dim=32))
    batches = [{"image": torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)} for _ in range(3)]
    with torch.no_grad():
        expected = [distiller.teacher(network_input(b["image"], "cpu")) for b in batches]
    distiller.remember_teacher(batches, "cpu")
    teacher_runs = []
    distiller.teacher.register_forward_hook(lambda *_: teacher_runs.append(1))
    for batch, want in zip(batches, expected):
        got = distiller.teacher_forward(network_input(batch["image"], "cpu"))
        assert all(torch.equal(got[k], want[k]) for k in want)
    assert not teacher_runs
    mixed = torch.cat([batches[0]["image"][:2], torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)])
    got = distiller.teacher_forward(network_input(mixed, "cpu"))
    assert len(teacher_runs) == 1
    with torch.no_grad():
        want = distiller.teacher(network_input(mixed, "cpu"))
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_cached_teacher_outputs_need_unaugmented_images():
    config = os.path.join(os.path.dirname(__file__), "..", "configs", "demo", "resnet20_to_resnet8_mld.py")
    with pytest.raises(UserError, match="cache_teacher_outputs"):
        load_config(config, ["cache_teacher_outputs=True", "augment=dict(cutout=0.5)"])
    with pytest.raises(UserError, match="cache_teacher_outputs"):
        load_config(config, ["cache_teacher_outputs=True", "augment=dict(shift=2)"])


def test_channels_last_auto_leaves_float32_on_the_cpu_nchw_and_always_or_never_decide():
    from mpscd.engine.evaluation import channels_last
    cpu, cuda = torch.device("cpu"), torch.device("cuda")  # devices as names: no GPU needed
    float32 = {"cpu_bf16": False}
    assert channels_last(cpu, {**float32, "channels_last": "auto"}) is False
    assert channels_last(cuda, {**float32, "channels_last": "auto"}) is True
    assert channels_last(cpu, {**float32, "channels_last": "always"}) is True
    assert channels_last(cuda, {**float32, "channels_last": "never"}) is False
