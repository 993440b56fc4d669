"""The base distiller (mdistiller's shape): one module holding the student, the frozen
teacher and every extra module of a method. forward_train() returns a dict of named,
weighted loss terms that the trainer sums and logs; trainable_parameters() hands the
optimizer everything that learns. A method subclasses Distiller, usually with nothing but
its distillation_terms(), and registers itself (mpscd.methods.registry)."""
import hashlib

import torch
import torch.nn.functional as F
from torch import nn

from mpscd.engine.evaluation import network_input
from mpscd.methods.registry import register
from utils import UserError


def _image_keys(images):
    """A 128-bit digest of each network input's values: the same for the same image in the
    same view."""
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in images.detach().cpu().numpy()]


def bce_loss(logits, targets):
    """Binary cross-entropy summed over classes, averaged over images; targets of -1
    (ignored labels) count nowhere."""
    logits, targets = logits.float(), targets.float()
    weight = (targets >= 0).float()
    loss = F.binary_cross_entropy_with_logits(logits, targets.clamp(min=0), weight, reduction="none")
    return loss.sum() / logits.shape[0]



@register("vanilla")
class Distiller(nn.Module):
    """Base class: the student trained with BCE alone (also the teacher stage, with no teacher)."""

    needs_teacher = False

    def __init__(self, student, teacher=None):
        super().__init__()
        self.student = student
        self.teacher = teacher
        self.progress = 0.0  # fraction of the stage's steps done, set by the trainer (for schedules)
        self.max_positives_per_image = None  # set by see_training_labels (None: unknown, up to C)
        self.teacher_memo = None  # set by remember_teacher
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

    def prepare(self, batches, device, channels_last=False):
        """Called once before training with the training set's batches in their test-time
        transform (e.g. prototype initialisation)."""

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

    def remember_teacher(self, batches, device, channels_last=False):
        """cache_teacher_outputs: the teacher's outputs for the training images, computed once
        in the order of `batches` (so a resumed run holds the same floats), after which
        teacher_forward looks a batch up by its images' values instead of running the teacher.
        Only for training images that never change (no augmentation)."""
        keys, outputs = [], []
        with torch.no_grad():
            for batch in batches:
                images = network_input(batch["image"], device, channels_last)
                outputs.append(self.teacher(images))
                keys += _image_keys(images)
        stored = {k: torch.cat([out[k] for out in outputs]) for k in outputs[0]}
        self.teacher_memo = {key: row for row, key in enumerate(keys)}, stored

    def teacher_forward(self, images):
        """Teacher outputs without autograd; cloned out of inference mode so that losses
        may save them for the student's backward pass."""
        if self.teacher_memo is not None:
            rows, stored = self.teacher_memo
            index = [rows.get(key) for key in _image_keys(images)]
            if None not in index:  # else (e.g. --max_iters remembered part of the set) run the teacher
                index = torch.tensor(index, device=images.device)
                return {k: v.index_select(0, index) for k, v in stored.items()}
        with torch.inference_mode():
            out = self.teacher(images)
        return {k: v.clone() for k, v in out.items()}

    def outputs_and_bce(self, images, targets):
        """Student outputs, teacher outputs (None without a teacher) and the BCE term:
        where every method's forward_train starts."""
        t = self.teacher_forward(images) if self.teacher is not None else None
        s = self.student(images)
        return s, t, {"bce": bce_loss(s["logits"], targets)}

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
