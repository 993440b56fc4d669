"""Distillers: one object holding the student, the frozen teacher and every extra module
(projection heads, prototype banks) of a method. forward_train() returns a dict of named,
weighted loss terms that the trainer sums and logs; trainable_parameters() hands the
optimizer everything that learns. A new method is one subclass registered in DISTILLERS,
usually with nothing but its distillation_terms()."""
import inspect

import numpy as np
import torch
from torch import nn

from mpscd import losses
from mpscd.evaluation import network_input
from mpscd.prototypes import PrototypeBank, class_sums
from utils import UserError
from utils.distributed import gather_rows


class Distiller(nn.Module):
    """Base class: the student trained with BCE alone (also the teacher stage, with no teacher)."""

    needs_teacher = False

    def __init__(self, student, teacher=None):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.progress = 0.0  # fraction of the stage's steps done, set by the trainer (for schedules)
        self.max_positives_per_image = None  # set by see_training_labels (None: unknown, up to C)
        if teacher is not None:
            teacher.requires_grad_(False).eval()

    def see_training_labels(self, targets):
        """The training set's labels [N, C] (array or tensor): the most positives one image
        has bounds the pairs a step must handle."""
        self.max_positives_per_image = int((torch.as_tensor(targets) == 1).sum(1).max())

    def train(self, mode=True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # frozen: BN statistics and dropout stay in eval mode
        return self

    def trainable_parameters(self):
        return [(n, p) for n, p in self.named_parameters() if not n.startswith("teacher.") and p.requires_grad]

    def extra_state(self):
        """State of the method's own modules (heads, banks): everything but the two networks."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(("student.", "teacher."))}

    def load_extra_state(self, state):
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(("student.", "teacher."))]
        if missing or unexpected:
            raise UserError(f"checkpoint does not match distiller {type(self).__name__}: "
                            f"missing {missing[:5]}, unexpected {unexpected[:5]}")

    def prepare(self, loader, device):
        """Called once before training (e.g. prototype initialisation)."""

    def compile_for_training(self, channels_last):
        """compile = True: torch.compile the networks' backbones in place (checkpoint keys
        unchanged) and the method's distillation terms (their elementwise work fused into a
        few kernels: a GPU step is otherwise bound by launching small ones). The heads stay
        eager: MPSCD's gradient cap and the diagnostics differentiate with respect to the
        label-wise embeddings, which a compiled head would keep inside its graph. Inductor
        may turn convolutions to NHWC only where the eager layout is NHWC (`channels_last`):
        in float32 on an AVX2 CPU, an NHWC RepVGG backward hangs or corrupts the heap."""
        for network in (self.student, self.teacher):
            if network is not None:
                network.backbone.compile(options={"layout_optimization": channels_last})
        self.distillation_terms = torch.compile(self.distillation_terms)

    def teacher_forward(self, images):
        """Teacher outputs without autograd; cloned out of inference mode so that losses
        may save them for the student's backward pass."""
        with torch.inference_mode():
            out = self.teacher(images)
        return {k: v.clone() for k, v in out.items()}

    def outputs_and_bce(self, images, targets):
        """Student outputs, teacher outputs (None without a teacher) and the BCE term:
        where every method's forward_train starts."""
        t = self.teacher_forward(images) if self.teacher is not None else None
        s = self.student(images)
        return s, t, {"bce": losses.bce_loss(s["logits"], targets)}

    def distillation_terms(self, s, t, targets):
        """The method's weighted loss terms besides BCE, from the student's and the teacher's
        outputs: tensor arithmetic only (no state changes), what compile = True compiles.
        Called with autocast off: loss arithmetic in float32."""
        return {}

    def forward_train(self, images, targets):
        s, t, terms = self.outputs_and_bce(images, targets)
        with torch.autocast(images.device.type, enabled=False):
            terms.update(self.distillation_terms(s, t, targets))
        return terms

    def forward(self, images, targets):
        """The training forward, so that DistributedDataParallel can wrap a distiller."""
        return self.forward_train(images, targets)


STRUCTURE_TERMS = ("pcrd", "s2s", "s2p")


def check_schedule(points):
    """A schedule is (progress, factor) points with progress (the fraction of the stage's
    steps done) rising from 0 to 1; () means a constant factor of 1."""
    try:
        checked = tuple((float(x), float(y)) for x, y in points)
        xs = [x for x, _ in checked]
        well_formed = all(0.0 <= x <= 1.0 for x in xs) and xs == sorted(xs)
    except (TypeError, ValueError):
        well_formed = False
    if not well_formed:
        raise UserError("a schedule is a sequence of (progress, factor) points, progress rising "
                        f"within [0, 1], e.g. ((0, 0), (0.2, 1)) for a warm-up; got {points!r}")
    return checked


def schedule_factor(points, progress):
    """The factor at `progress`: linear between the points, constant before the first and
    after the last. A Python float, from the step count: no device synchronisation."""
    xs, ys = zip(*points)
    return float(np.interp(progress, xs, ys))


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

    def __init__(self, student, teacher, lambda_pcrd=1.0, lambda_s2s=1.0, lambda_s2p=1.0, lambda_mld=1.0,
                 logit_temperature=1.0, tau_r=0.1, tau_s=0.1, proj_dim=128, pcrd_positives="instance",
                 s2s_relations="all", s2p_relations="prototypes", s2p_negatives=False,
                 prototype_momentum=0.9, prototype_init="network_pass", structure_grad_cap=0.0,
                 structure_schedule=(), gather_across_ranks=False):
        super().__init__(student, teacher)
        for name, value, allowed in (("pcrd_positives", pcrd_positives, ("instance", "class")),
                                     ("s2s_relations", s2s_relations, ("all", "class_residual", "supcon")),
                                     ("s2p_relations", s2p_relations, ("prototypes", "images", "contrast_mse")),
                                     ("prototype_init", prototype_init, ("network_pass", "teacher_pass", "first_batch"))):
            if value not in allowed:
                raise UserError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        self.lambdas = {"pcrd": lambda_pcrd, "s2s": lambda_s2s, "s2p": lambda_s2p, "mld": lambda_mld}
        self.tau_r, self.tau_s, self.logit_temperature = tau_r, tau_s, logit_temperature
        self.pcrd_positives, self.s2p_negatives = pcrd_positives, s2p_negatives
        self.s2s_relations, self.s2p_relations = s2s_relations, s2p_relations
        self.prototype_init, self.gather_across_ranks = prototype_init, gather_across_ranks
        self.structure_grad_cap = structure_grad_cap
        self.structure_schedule = check_schedule(structure_schedule)
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
    def prepare(self, loader, device):
        """Prototypes from a pass over the training set (test-time transform, networks in
        eval mode): P[c] = normalise(mean unit embedding of class c), for the teacher's bank
        (teacher_pass) or for both banks, each from its own network (network_pass); a bank
        not set here starts from the first batch."""
        if not self.uses_prototypes or self.prototype_init == "first_batch":
            return
        passes = [(self.bank_t, self.teacher)]
        if self.prototype_init == "network_pass":
            passes.append((self.bank_s, self.student))
        student_training = self.student.training
        self.student.eval()
        sums, counts = [0] * len(passes), [0] * len(passes)
        for batch in loader:
            images, targets = network_input(batch["image"], device), batch["target"].to(device)
            for i, (_, network) in enumerate(passes):
                batch_sums, batch_counts = class_sums(network(images)["embeddings"], targets)
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
            terms["mld"] = self.lambdas["mld"] * losses.kd_loss(s["logits"], t["logits"], self.logit_temperature)
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

    def _residuals(self, s_emb, t_emb):
        """The prototype-aware representations: each unit embedding minus its class prototype."""
        return losses.unit(s_emb) - self.bank_s.prototypes, losses.unit(t_emb) - self.bank_t.prototypes

    def _s2s(self, s_emb, t_emb, labels):
        """S2S between objects of different images: all of them on the unit embeddings, or
        ("class_residual") those of one class on the unit prototype-centred embeddings, the
        part of each object that its class does not explain; or ("supcon", the authors'
        code) the student's own supervised contrast, no teacher."""
        if self.s2s_relations == "all":
            return losses.s2s_loss(s_emb, t_emb, labels, self.tau_s)
        if self.s2s_relations == "supcon":
            return losses.supcon_loss(s_emb, labels)
        return losses.s2s_loss(*self._residuals(s_emb, t_emb), labels, self.tau_s, within_class=True)

    def _s2p(self, s_emb, t_emb, labels):
        """S2P over the batch's images per class ("images"), or over the prototypes per
        positive ("prototypes"; with s2p_negatives, per known label), or ("contrast_mse",
        the authors' code) each class's prototype contrast over the batch's images matched
        by squared difference."""
        valid = self.bank_s.initialized & self.bank_t.initialized
        protos = self.bank_s.prototypes, self.bank_t.prototypes
        if self.s2p_relations == "images":
            return losses.s2p_over_images(s_emb, t_emb, *protos, labels, self.tau_s, valid)
        if self.s2p_relations == "contrast_mse":
            return losses.prototype_contrast_mse(s_emb, t_emb, *protos, labels, proto_valid=valid)
        return losses.s2p_loss(s_emb, t_emb, *protos, labels, self.tau_s, self.s2p_negatives, valid)

    def _pcrd(self, s_emb, t_emb, labels):
        """PCRD on the prototype-aware residuals of the positives (every positive's class
        has a prototype in both banks: they were corrected on this batch first). Where the
        training labels bound the positives per image (max_positives_per_image = k < C), the
        projection heads see only each image's k highest-labelled pairs, which hold all its
        positives: a static shape, and a fraction k / C of the heads' work."""
        r_s, r_t = self._residuals(s_emb, t_emb)
        classes, k = None, self.max_positives_per_image
        if k is not None and k < labels.shape[1]:
            classes = labels.topk(k, dim=1).indices
            labels = labels.gather(1, classes)
            r_s, r_t = (r.gather(1, classes[:, :, None].expand(-1, -1, r.shape[2])) for r in (r_s, r_t))
        return losses.pcrd_loss(self.proj_s(r_s), self.proj_t(r_t), labels, self.tau_r, self.pcrd_positives, classes)


class LogitKD(Distiller):
    """BCE + weight * T^2 * per-class binary KL of the temperature-softened sigmoids
    (Hinton et al. 2015, on sigmoid outputs). At T = 1 this is L2D's MLD."""

    needs_teacher = True
    term = "kd"

    def __init__(self, student, teacher, lambda_kd=1.0, temperature=4.0):
        super().__init__(student, teacher)
        self.lambda_kd, self.temperature = lambda_kd, temperature

    def distillation_terms(self, s, t, targets):
        return {self.term: self.lambda_kd * losses.kd_loss(s["logits"], t["logits"], self.temperature)}


class MLD(LogitKD):
    """L2D's multi-label logit distillation (Yang et al., ICCV 2023): per-class binary KL
    between sigmoid(teacher) and sigmoid(student)."""

    term = "mld"

    def __init__(self, student, teacher, lambda_kd=1.0, temperature=1.0):
        super().__init__(student, teacher, lambda_kd, temperature)


class L2D(Distiller):
    """L2D (Yang et al., ICCV 2023, "Multi-Label Knowledge Distillation"): MLD plus
    class-aware (CD) and instance-aware (ID) label-wise embedding structure distillation.

    Default weights are the official config's (penghui-yang/L2D: logits 10, CD 100,
    ID 1000). Its BCE is summed over the batch, ours is averaged over images, so the
    weights are applied divided by the batch size: the loss is the official one divided
    by B, with the same balance between BCE and every distillation term."""

    needs_teacher = True

    def __init__(self, student, teacher, lambda_mld=10.0, lambda_cd=100.0, lambda_id=1000.0):
        super().__init__(student, teacher)
        self.lambdas = {"mld": lambda_mld, "cd": lambda_cd, "id": lambda_id}

    def distillation_terms(self, s, t, targets):
        class_aware, instance_aware = losses.l2d_structure_losses(s["embeddings"], t["embeddings"], targets)
        values = {"mld": losses.mld_loss(s["logits"], t["logits"]), "cd": class_aware, "id": instance_aware}
        return {k: self.lambdas[k] / len(targets) * v for k, v in values.items()}


class FeatureKD(Distiller):
    """Relation-based distillation on the pooled feature: RKD (distance + angle) or PKT."""

    needs_teacher = True
    loss_name = None

    def __init__(self, student, teacher, lambda_kd=1.0):
        super().__init__(student, teacher)
        self.lambda_kd = lambda_kd

    def distillation_terms(self, s, t, targets):
        return {self.loss_name: self.lambda_kd * getattr(losses, f"{self.loss_name}_loss")(s["feature"], t["feature"])}


class RKD(FeatureKD):
    """Park et al., CVPR 2019: distance (weight 25) and angle (weight 50) relations."""
    loss_name = "rkd"


class PKT(FeatureKD):
    """Passalis & Tefas, ECCV 2018: probabilistic knowledge transfer."""
    loss_name = "pkt"


DISTILLERS = {"vanilla": Distiller, "mpscd": MPSCD, "mld": MLD, "kd": LogitKD, "l2d": L2D,
              "rkd": RKD, "pkt": PKT}


def _options(cls):
    """The options a distiller takes, with their defaults: its constructor's parameters
    after the networks."""
    params = inspect.signature(cls.__init__).parameters
    return {name: p.default for name, p in params.items() if name not in ("self", "student", "teacher")}


def distiller_class(spec):
    """The distiller class a config's distiller dict names, after checking its options."""
    options = dict(spec)
    name = options.pop("type", None)
    if name not in DISTILLERS:
        raise UserError(f"unknown distiller {name!r}; known: {', '.join(DISTILLERS)}")
    cls = DISTILLERS[name]
    unknown = set(options) - set(_options(cls))
    if unknown:
        raise UserError(f"unknown option(s) {sorted(unknown)} for distiller {name!r}; "
                        f"known: {', '.join(_options(cls))}")
    return cls


def distiller_settings(spec):
    """The spec with every option the distiller takes, defaults filled in: what a run used,
    even after a default changes."""
    return {"type": spec["type"], **_options(distiller_class(spec)), **spec}


def build_distiller(spec, student, teacher=None):
    """spec: the config's distiller dict, {type: name, **options}."""
    cls = distiller_class(spec)
    options = {k: v for k, v in spec.items() if k != "type"}
    return cls(student, teacher, **options) if cls.needs_teacher else cls(student, **options)
