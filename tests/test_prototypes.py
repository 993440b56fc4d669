import pytest
import torch
import torch.nn.functional as F

from datasets.transforms import normalize
from models import build_model
from mpscd.methods import build_distiller
from mpscd.methods.mpscd import STRUCTURE_TERMS, schedule_factor
from mpscd.methods.mpscd.prototypes import PrototypeBank
from test_end_to_end import run_main
from utils import UserError
from utils.logger import read_jsonl


def test_correction_rule_by_hand():
    bank = PrototypeBank(3, 2, momentum=0.5)
    bank.prototypes[0] = torch.tensor([1.0, 0.0])
    bank.initialized[0] = True
    embeddings = torch.zeros(2, 3, 2)
    embeddings[0, 0] = torch.tensor([0.0, 2.0])   # class 0, image 0
    embeddings[1, 0] = torch.tensor([0.0, 5.0])   # class 0, image 1
    embeddings[1, 1] = torch.tensor([3.0, 4.0])   # class 1, first appearance
    labels = torch.tensor([[1.0, 0, 0], [1, 1, 0]])
    bank.update(embeddings, labels)
    # class 0: mu = normalise((0,1) + (0,1)) = (0,1); P = normalise(0.5*(1,0) + 0.5*(0,1))
    assert torch.allclose(bank.prototypes[0], torch.tensor([1.0, 1.0]) / 2 ** 0.5)
    assert torch.allclose(bank.prototypes[1], torch.tensor([0.6, 0.8]))  # set to its first mean
    assert torch.equal(bank.prototypes[2], torch.zeros(2))                # absent: untouched
    assert bank.initialized.tolist() == [True, True, False]


def test_momentum_one_keeps_prototypes_and_absent_classes_do_not_move():
    torch.manual_seed(0)
    bank = PrototypeBank(4, 8, momentum=1.0)
    labels = torch.ones(2, 4)
    bank.update(torch.randn(2, 4, 8), labels)
    first = bank.prototypes.clone()
    for _ in range(3):
        bank.update(torch.randn(2, 4, 8), labels)
    assert torch.equal(bank.prototypes, first)
    moving = PrototypeBank(4, 8, momentum=0.9)
    moving.update(torch.randn(2, 4, 8), labels)
    before = moving.prototypes.clone()
    only_class_1 = torch.zeros(2, 4)
    only_class_1[0, 1] = 1
    moving.update(torch.randn(2, 4, 8), only_class_1)
    changed = (moving.prototypes != before).any(1)
    assert changed.tolist() == [False, True, False, False]
    assert torch.allclose(moving.prototypes.norm(dim=1), torch.ones(4))


def test_checkpoint_round_trip(tmp_path):
    bank = PrototypeBank(5, 6)
    bank.update(torch.randn(3, 5, 6), (torch.rand(3, 5) < 0.5).float())
    torch.save(bank.state_dict(), tmp_path / "bank.pth")
    restored = PrototypeBank(5, 6)
    restored.load_state_dict(torch.load(tmp_path / "bank.pth"))
    assert torch.equal(restored.prototypes, bank.prototypes)
    assert torch.equal(restored.initialized, bank.initialized)


def tiny_distiller(**options):
    torch.manual_seed(0)
    teacher = build_model("resnet18", 4, embed_dim=24)
    student = build_model("resnet18", 4, embed_dim=16)
    return build_distiller({"type": "mpscd", "lambda_mld": 1.0, "prototype_init": "first_batch", **options},
                           student, teacher)


@pytest.mark.parametrize("positives", ["instance", "class"])
def test_pcrd_on_each_images_highest_labels_equals_pcrd_on_all_pairs(positives):
    """max_positives_per_image = k (the run sets it from the training labels): the projection
    heads see k pairs per image, and PCRD and its gradients are those over all C pairs."""
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, -1, 0], [0, 0, 0, 0], [1, 0, 0, 1]])
    images = torch.randn(4, 3, 32, 32)
    results = []
    for k in (None, 2):
        distiller = tiny_distiller(pcrd_positives=positives, lambda_mld=0.0, lambda_s2s=0.0, lambda_s2p=0.0,
                                   structure_grad_cap=0.0).train()
        distiller.max_positives_per_image = k
        torch.manual_seed(1)  # the heads' dropout draws alike
        pcrd = distiller.forward_train(images, labels)["pcrd"]
        pcrd.backward()
        results.append([pcrd, distiller.proj_t[0].weight.grad, distiller.student.head.input_proj.weight.grad])
    for dense, compact in zip(*results):
        assert torch.allclose(dense, compact, rtol=1e-5, atol=1e-7)


def test_gradients_reach_student_and_heads_never_teacher():
    distiller = tiny_distiller().train()
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 1]])
    terms = distiller.forward_train(torch.randn(3, 3, 32, 32), labels)
    assert set(terms) == {"bce", "mld", "pcrd", "s2s", "s2p"}
    assert all(t.dtype == torch.float32 and torch.isfinite(t) for t in terms.values())
    sum(terms.values()).backward()
    assert all(p.grad is None for p in distiller.teacher.parameters())
    for module in (distiller.student.head, distiller.student.backbone, distiller.proj_s, distiller.proj_t):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    names = {n.split(".")[0] for n, _ in distiller.trainable_parameters()}
    assert names == {"student", "proj_s", "proj_t"}
    assert not distiller.teacher.training and distiller.student.training
    # the banks were corrected before the losses: every class with positives is initialised
    assert distiller.bank_s.initialized.all() and distiller.bank_t.initialized.all()


def test_teacher_pass_initialisation():
    distiller = tiny_distiller(prototype_init="teacher_pass")
    images = torch.randint(256, (4, 3, 32, 32), dtype=torch.uint8)  # as a loader gives them
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]])
    distiller.prepare([{"image": images[:2], "target": labels[:2]}, {"image": images[2:], "target": labels[2:]}],
                      torch.device("cpu"))
    with torch.no_grad():
        t = F.normalize(distiller.teacher(normalize(images))["embeddings"], dim=-1)
    expected = F.normalize((t * (labels == 1).float()[..., None]).sum(0), dim=-1)
    assert distiller.bank_t.initialized.tolist() == [True, True, True, False]
    assert torch.allclose(distiller.bank_t.prototypes[:3], expected[:3], atol=1e-5)
    assert not distiller.bank_s.initialized.any()  # the student bank starts from its first batch


def test_the_logit_term_at_temperature_t_is_kd():
    """lambda_mld with logit_temperature T is KD's T^2-scaled KL of softened sigmoids (MLD at T = 1)."""
    from mpscd.methods.logit import kd_loss, mld_loss
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 1]])
    images = torch.randn(3, 3, 32, 32)
    for temperature in (1.0, 4.0):
        distiller = tiny_distiller(logit_temperature=temperature).eval()
        with torch.no_grad():
            s, t = distiller.student(images)["logits"], distiller.teacher(images)["logits"]
            mld = distiller.forward_train(images, labels)["mld"]
        assert torch.allclose(mld, kd_loss(s, t, temperature), rtol=1e-5)
        if temperature == 1.0:
            assert torch.allclose(mld, mld_loss(s, t), rtol=1e-5)


def test_structure_grad_cap_bounds_the_structure_gradient_against_bce():
    """With structure_grad_cap r, the PCRD + S2S + S2P gradient on the student's label-wise
    embeddings is at most r times BCE's; a cap that does not bind leaves every term as is."""
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 1]])
    images = torch.randn(3, 3, 32, 32)

    def terms_and_embeddings(**options):
        distiller = tiny_distiller(**options).train()
        seen = {}
        distiller.student.register_forward_hook(lambda module, args, out: seen.update(e=out["embeddings"]))
        return distiller.forward_train(images, labels), seen["e"]

    def gradient_norm(loss, e):
        return torch.autograd.grad(loss, e, retain_graph=True)[0].norm()

    strong = dict(lambda_pcrd=100.0, lambda_s2s=100.0, lambda_s2p=1000.0)
    terms, e = terms_and_embeddings(**strong, structure_grad_cap=0.5)
    structure = terms["pcrd"] + terms["s2s"] + terms["s2p"]
    assert gradient_norm(structure, e) == pytest.approx(0.5 * gradient_norm(terms["bce"], e).item(), rel=1e-4)
    uncapped, e = terms_and_embeddings(**strong, structure_grad_cap=0.0)
    assert gradient_norm(uncapped["pcrd"] + uncapped["s2s"] + uncapped["s2p"], e) > gradient_norm(uncapped["bce"], e)
    loose, _ = terms_and_embeddings(structure_grad_cap=1e6)
    plain, _ = terms_and_embeddings(structure_grad_cap=0.0)
    assert all(torch.allclose(loose[k], plain[k]) for k in plain)


def test_structure_schedule_scales_the_structure_terms_by_training_progress():
    """structure_schedule: (progress, factor) points, linear between them, constant outside;
    it scales PCRD, S2S and S2P (never BCE or MLD) at the progress the trainer sets."""
    warm_up = ((0.0, 0.0), (0.2, 1.0))
    assert [schedule_factor(warm_up, p) for p in (0.0, 0.1, 0.2, 0.7)] == [0.0, 0.5, 1.0, 1.0]
    assert [schedule_factor(((0.5, 1.0), (1.0, 0.0)), p) for p in (0.0, 0.75, 1.0)] == [1.0, 0.5, 0.0]
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 1]])
    images = torch.randn(3, 3, 32, 32)
    plain = tiny_distiller(structure_grad_cap=0.0).train().forward_train(images, labels)
    scheduled = tiny_distiller(structure_grad_cap=0.0, structure_schedule=warm_up).train()
    scheduled.progress = 0.1
    halved = scheduled.forward_train(images, labels)
    for k in plain:
        assert torch.allclose(halved[k], plain[k] * (0.5 if k in STRUCTURE_TERMS else 1.0), rtol=1e-5)


@pytest.mark.parametrize("schedule", [((0.5, 0), (0.2, 1)), ((0, 0), (1.5, 1)), (0, 0.2), "warmup"])
def test_a_malformed_structure_schedule_is_refused(schedule):
    with pytest.raises(UserError, match="progress rising within"):
        tiny_distiller(structure_schedule=schedule)


def test_the_trainer_feeds_the_schedule_its_progress(tmp_path):
    """A schedule that switches the structure terms on halfway: the first of two epochs
    (steps 0-5 of 12, progress <= 5/12) trains without them, the second with them."""
    switch_on = "distiller=dict(type='mpscd', structure_schedule=((0.49, 0), (0.5, 1)))"
    run_main(tmp_path, switch_on, "teacher_train=dict(epochs=1)", "student_train=dict(epochs=2)", max_iters=1000)
    first, second = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["stage"] == "student"]
    assert first["loss_pcrd"] == first["loss_s2s"] == first["loss_s2p"] == 0.0
    assert second["loss_pcrd"] > 0 and second["loss_s2s"] > 0 and second["loss_s2p"] > 0
    assert first["loss_mld"] > 0


def test_network_pass_sets_both_banks_and_without_correction_they_stay():
    """prototype_init="network_pass": each bank is the normalised mean unit embedding of its
    class from its own network in eval mode over the loader; with prototype_momentum=1 (the
    "w/o correction" ablation) training steps leave both banks as that pass set them."""
    distiller = tiny_distiller(prototype_init="network_pass", prototype_momentum=1.0).train()
    torch.manual_seed(2)
    batches = [{"image": torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8),
                "target": torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 0]])} for _ in range(2)]
    distiller.prepare(batches, torch.device("cpu"))
    assert distiller.student.training and not distiller.teacher.training
    for bank, network in ((distiller.bank_s, distiller.student), (distiller.bank_t, distiller.teacher)):
        network.eval()
        with torch.no_grad():
            units = torch.cat([F.normalize(network(normalize(b["image"]))["embeddings"], dim=-1) for b in batches])
        targets = torch.cat([b["target"] for b in batches])
        assert bank.initialized.tolist() == [True, True, True, False]
        for c in range(3):
            expected = F.normalize(units[targets[:, c] == 1, c].sum(0), dim=0)
            assert torch.allclose(bank.prototypes[c], expected, atol=1e-5)
    distiller.train()
    before = distiller.bank_s.prototypes.clone(), distiller.bank_t.prototypes.clone()
    sum(distiller(normalize(batches[0]["image"]), batches[0]["target"]).values()).backward()
    assert torch.equal(distiller.bank_s.prototypes, before[0]) and torch.equal(distiller.bank_t.prototypes, before[1])
