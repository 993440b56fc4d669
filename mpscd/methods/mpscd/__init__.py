"""MPSCD: the distiller, its prototype banks (prototypes.py) and its terms (terms.py)."""
import numpy as np
import torch
from torch import nn

from mpscd.engine.checks import NON_NEGATIVE, POSITIVE, Boolean, Number, OneOf, Schedule
from mpscd.engine.evaluation import network_input
from mpscd.methods.base import Distiller
from mpscd.methods.logit import kd_loss
from mpscd.methods.mpscd import terms
from mpscd.methods.mpscd.prototypes import PrototypeBank, class_sums
from mpscd.methods.registry import register
from utils.distributed import gather_rows


STRUCTURE_TERMS = ("pcrd", "s2s", "s2p")


def schedule_factor(points, progress):
    """The factor at `progress`: linear between the points, constant before the first and
    after the last. A Python float, from the step count: no device synchronisation."""
    xs, ys = zip(*points)
    return float(np.interp(progress, xs, ys))


@register("mpscd")
class MPSCD(Distiller):
    """Multi-label Prototype-aware Structured Contrastive Distillation (docs/method.md):
    BCE + MLD + PCRD + PCSD (S2S, S2P) with prototype banks corrected every batch. A term
    with weight 0 is not computed, which gives the ablations. The defaults are the method
    at full strength, as the seed configs run it: the abstract's relations, every term at
    weight 1, L2D's logit term (the authors' code adds it), no gradient cap, both banks
    from a pass of their network. The light setting of the from-scratch study is the
    centred relations ("class_residual", "images") at 0.01 / 0.01 / 0.1 with the cap at 1;
    the authors' code's PCSD is s2s_relations="supcon", s2p_relations="contrast_mse".
    structure_schedule scales PCRD, S2S and S2P over the student's steps."""

    needs_teacher = True

    def __init__(self, student, teacher,
                 lambda_pcrd: NON_NEGATIVE = 1.0, lambda_s2s: NON_NEGATIVE = 1.0, lambda_s2p: NON_NEGATIVE = 1.0,
                 lambda_mld: NON_NEGATIVE = 1.0, logit_temperature: POSITIVE = 1.0,
                 tau_r: POSITIVE = 0.1, tau_s: POSITIVE = 0.1, proj_dim: Number(int, low=1) = 128,
                 pcrd_positives: OneOf("instance", "class") = "instance",
                 s2s_relations: OneOf("all", "class_residual", "supcon") = "all",
                 s2p_relations: OneOf("prototypes", "images", "contrast_mse") = "prototypes",
                 s2p_negatives: Boolean() = False,
                 prototype_momentum: Number(float, low=0, high=1) = 0.9,
                 prototype_init: OneOf("network_pass", "teacher_pass", "first_batch") = "network_pass",
                 structure_grad_cap: NON_NEGATIVE = 0.0, structure_schedule: Schedule() = (),
                 gather_across_ranks: Boolean() = False):
        super().__init__(student, teacher)
        self.lambdas = {"pcrd": lambda_pcrd, "s2s": lambda_s2s, "s2p": lambda_s2p, "mld": lambda_mld}
        self.tau_r, self.tau_s, self.logit_temperature = tau_r, tau_s, logit_temperature
        self.pcrd_positives, self.s2p_negatives = pcrd_positives, s2p_negatives
        self.s2s_relations, self.s2p_relations = s2s_relations, s2p_relations
        self.prototype_init, self.gather_across_ranks = prototype_init, gather_across_ranks
        self.structure_grad_cap = structure_grad_cap
        self.structure_schedule = Schedule()(structure_schedule)
        num_classes, dim_s = student.head.queries.shape
        dim_t = teacher.head.queries.shape[1]
        if lambda_pcrd:  # no idle parameters when PCRD is off (DistributedDataParallel needs that)
            self.proj_s = nn.Sequential(nn.Linear(dim_s, dim_s), nn.ReLU(inplace=True), nn.Linear(dim_s, proj_dim))
            self.proj_t = nn.Sequential(nn.Linear(dim_t, dim_t), nn.ReLU(inplace=True), nn.Linear(dim_t, proj_dim))
        self.bank_s = PrototypeBank(num_classes, dim_s, prototype_momentum)
        self.bank_t = PrototypeBank(num_classes, dim_t, prototype_momentum)

    @property
    def uses_prototypes(self):
        return bool(self.lambdas["pcrd"] or self.lambdas["s2p"]
                    or (self.lambdas["s2s"] and self.s2s_relations == "class_residual"))

    @torch.no_grad()
    def prepare(self, batches, device, channels_last=False):
        """Prototypes from a pass over the training set (test-time transform, networks in
        eval mode): P[c] = normalise(mean unit embedding of class c), for the teacher's bank
        (teacher_pass) or for both banks, each from its own network (network_pass); a bank
        not set here starts from the first batch."""
        if not self.uses_prototypes or self.prototype_init == "first_batch":
            return
        passes = [(self.bank_t, self.teacher_forward)]  # cache_teacher_outputs: looked up, not run again
        if self.prototype_init == "network_pass":
            passes.append((self.bank_s, self.student))
        student_training = self.student.training
        self.student.eval()
        sums, counts = [0] * len(passes), [0] * len(passes)
        for batch in batches:
            images, targets = network_input(batch["image"], device, channels_last), batch["target"].to(device)
            for i, (_, network) in enumerate(passes):
                batch_sums, batch_counts = class_sums(network(images)["embeddings"].float(), targets)
                sums[i], counts[i] = sums[i] + batch_sums, counts[i] + batch_counts
        self.student.train(student_training)
        for i, (bank, _) in enumerate(passes):
            bank.initialize(sums[i], counts[i])

    def forward_train(self, images, targets):
        s, t, terms = self.outputs_and_bce(images, targets)
        with torch.autocast(images.device.type, enabled=False):  # loss arithmetic in float32
            if self.uses_prototypes:  # correction before the losses, on this batch
                self.bank_s.update(s["embeddings"].detach(), targets)
                self.bank_t.update(t["embeddings"], targets)
            terms.update(self.distillation_terms(s, t, targets))
        if self.structure_schedule:
            factor = schedule_factor(self.structure_schedule, self.progress)
            terms.update({k: factor * v for k, v in terms.items() if k in STRUCTURE_TERMS})
        if self.structure_grad_cap and torch.is_grad_enabled():
            self._cap_structure_gradient(terms, s["embeddings"])
        return terms

    def distillation_terms(self, s, t, targets):
        terms = {}
        if self.lambdas["mld"]:
            terms["mld"] = self.lambdas["mld"] * kd_loss(s["logits"], t["logits"], self.logit_temperature)
        s_emb, t_emb, labels = s["embeddings"], t["embeddings"], targets
        if self.gather_across_ranks:  # contrast against every rank's batch
            s_emb, t_emb, labels = gather_rows(s_emb), gather_rows(t_emb), gather_rows(labels)
        if self.lambdas["pcrd"]:
            terms["pcrd"] = self.lambdas["pcrd"] * self._pcrd(s_emb, t_emb, labels)
        if self.lambdas["s2s"]:
            terms["s2s"] = self.lambdas["s2s"] * self._s2s(s_emb, t_emb, labels)
        if self.lambdas["s2p"]:
            terms["s2p"] = self.lambdas["s2p"] * self._s2p(s_emb, t_emb, labels)
        return terms

    def _cap_structure_gradient(self, terms, embeddings):
        """Scales PCRD, S2S and S2P down together (in place, this step) so that their gradient
        on the student's label-wise embeddings is at most structure_grad_cap times BCE's:
        a structure term that outweighs BCE holds the student near the label prior
        (docs/experiments.md). The scale is a device tensor: no host synchronisation."""
        names = [k for k in STRUCTURE_TERMS if k in terms]
        if not names:
            return
        bce_grad, = torch.autograd.grad(terms["bce"], embeddings, retain_graph=True)
        structure_grad, = torch.autograd.grad(sum(terms[k] for k in names), embeddings, retain_graph=True,
                                              allow_unused=True)
        if structure_grad is None:  # no structure term reached the embeddings (no prototypes yet)
            return
        limit = self.structure_grad_cap * bce_grad.float().norm()
        scale = (limit / structure_grad.float().norm().clamp_min(1e-12)).clamp(max=1.0)
        for k in names:
            terms[k] = terms[k] * scale

    def _s2s(self, s_emb, t_emb, labels):
        """S2S between objects of different images: all of them on the unit embeddings, or
        ("class_residual") those of one class on the unit prototype-centred embeddings, the
        part of each object that its class does not explain; or ("supcon", the authors'
        code) the student's own supervised contrast, no teacher. On each image's
        max_positives_per_image highest-labelled pairs (terms.top_pairs)."""
        k = self.max_positives_per_image
        if self.s2s_relations == "all":
            return terms.s2s_loss(s_emb, t_emb, labels, self.tau_s, max_positives=k)
        if self.s2s_relations == "supcon":
            return terms.supcon_loss(s_emb, labels, max_positives=k)
        return terms.s2s_loss(s_emb, t_emb, labels, self.tau_s, within_class=True, max_positives=k,
                              proto_s=self.bank_s.prototypes, proto_t=self.bank_t.prototypes)

    def _s2p(self, s_emb, t_emb, labels):
        """S2P over the batch's images per class ("images"), or over the prototypes per
        positive ("prototypes"; with s2p_negatives, per known label), or ("contrast_mse",
        the authors' code) each class's prototype contrast over the batch's images matched
        by squared difference."""
        valid = self.bank_s.initialized & self.bank_t.initialized
        protos = self.bank_s.prototypes, self.bank_t.prototypes
        if self.s2p_relations == "images":
            return terms.s2p_over_images(s_emb, t_emb, *protos, labels, self.tau_s, valid)
        if self.s2p_relations == "contrast_mse":
            return terms.prototype_contrast_mse(s_emb, t_emb, *protos, labels, proto_valid=valid)
        return terms.s2p_loss(s_emb, t_emb, *protos, labels, self.tau_s, self.s2p_negatives, valid,
                              max_positives=self.max_positives_per_image)

    def _pcrd(self, s_emb, t_emb, labels):
        """PCRD on the prototype-aware residuals of the positives (every positive's class
        has a prototype in both banks: they were corrected on this batch first). The
        projection heads, its costliest part, see only each image's max_positives_per_image
        highest-labelled pairs (terms.top_pairs), which hold all its positives."""
        classes = terms.top_pairs(labels, self.max_positives_per_image)
        r_s = terms.residual(s_emb, self.bank_s.prototypes, classes)
        r_t = terms.residual(t_emb, self.bank_t.prototypes, classes)
        return terms.pcrd_loss(self.proj_s(r_s), self.proj_t(r_t), labels, self.tau_r, self.pcrd_positives, classes)
