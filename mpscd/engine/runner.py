"""What main.py runs: build data, networks and distiller from a config; train the teacher
(unless a teacher checkpoint is given), distil the student, write the final results."""
import json
import os

import torch

from datasets import build_dataset, with_test_transform
from models import build_model
from models.cifar import CIFAR_BACKBONES
from mpscd.engine.data import make_test_loader, make_train_loader
from mpscd.methods import build_distiller, distiller_class, distiller_settings
from mpscd.engine.evaluation import channels_last, evaluate, summary
from mpscd.engine.trainer import StageTrainer
from mpscd.pretrain import digits_weights
from utils import UserError
from utils.checkpoint import load_checkpoint
from utils.distributed import is_main_process, rank, world_size
from utils.seed import seed_everything


def build_network(cfg, role, num_classes, log):
    """The teacher or student network named by the config, with its ImageNet weights (a
    32 px network: its weights from single digits, mpscd.pretrain's)."""
    weights = cfg[f"{role}_weights"]
    if cfg["pretrained"] and weights is None and cfg[role] in CIFAR_BACKBONES:
        weights = digits_weights(cfg[role], log)
    return build_model(cfg[role], num_classes, cfg["embed_dim"], cfg["pretrained"], weights, cfg["ffn_dim"])


def load_network(path, arch=None, num_classes=None, embed_dim=None, with_state=False, classes=None):
    """A network from a checkpoint of this program; refuses one of another architecture,
    classes (count, or names and order where both are known) or embedding size than
    expected. `with_state` also returns the checkpoint."""
    state = load_checkpoint(path)
    expected = {"arch": arch, "num_classes": num_classes, "embed_dim": embed_dim,
                "classes": classes if state.get("classes") is not None else None}
    for key, value in expected.items():
        if value is not None and state[key] != value:
            raise UserError(f"checkpoint {path} holds {key}={state[key]!r} but the config needs {value!r}; "
                            "point teacher_checkpoint at a matching checkpoint or set it to None to train one")
    ffn = state["model"].get("head.decoder.linear1.weight")  # None: an earlier head, refused below
    model = build_model(state["arch"], state["num_classes"], state["embed_dim"],
                        ffn_dim=2048 if ffn is None else ffn.shape[0])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:  # e.g. a checkpoint of the previous label-embedding head
        raise UserError(f"checkpoint {path} does not fit this program's {state['arch']} network "
                        f"({str(e).splitlines()[0]}); retrain it with this version") from None
    return (model, state) if with_state else model


class Run:
    def __init__(self, cfg, work_dir, device, log, signals, code, max_iters=None, resume=False):
        self.cfg, self.work_dir, self.device, self.log = cfg, work_dir, device, log
        self.signals = signals  # StopSignals, which every stage's trainer polls
        self.code = code  # RunCode: the commit this process runs, and any its checkpoints came from
        self.teacher_code = None  # the code that trained the teacher (None: no teacher, or not recorded)
        self.max_iters, self.resume = max_iters, resume
        self.train_set = build_dataset(cfg, "train", log)
        self.test_set = build_dataset(cfg, "test", log)
        if self.test_set.classes != self.train_set.classes:  # e.g. two COCO-format files of different categories
            raise UserError(f"the test split's classes differ from the training split's: "
                            f"{self.test_set.classes[:5]}... against {self.train_set.classes[:5]}...")
        self.num_classes = len(self.train_set.classes)
        heldout = "development" if cfg["dataset"] == "demo" and cfg["demo"]["heldout"] == "dev" else "test"
        log(f"{cfg['dataset']}: {len(self.train_set)} training and {len(self.test_set)} {heldout} images, "
            f"{self.num_classes} classes; batch size {cfg['batch_size']} per process")
        bs, workers, shard = cfg["batch_size"], cfg["num_workers"], (rank(), world_size())
        if world_size() > 1:
            log(f"distributed: {world_size()} processes, global batch {bs * world_size()}")
        self.loaders = (make_train_loader(self.train_set, bs, workers, cfg["seed"], *shard),
                        make_test_loader(self.test_set, bs, workers, *shard),
                        make_test_loader(with_test_transform(self.train_set, cfg), bs, workers, *shard))

    def stage(self, name, distiller, schedule):
        if self.cfg["sync_bn"] and world_size() > 1:
            distiller.student = torch.nn.SyncBatchNorm.convert_sync_batchnorm(distiller.student)
        distiller.see_training_labels(self.train_set.targets)
        distiller.to(self.device)
        nhwc = channels_last(self.device, self.cfg)
        if nhwc:
            distiller.to(memory_format=torch.channels_last)
        if self.cfg["compile"]:
            distiller.compile_for_training(nhwc)
        trainer = StageTrainer(name, distiller, self.cfg, schedule, self.loaders, self.device,
                               self.work_dir, self.log, self.signals, self.code, self.max_iters,
                               self.train_set.classes)
        metrics = trainer.train(self.resume)
        self.log(f"[{name}] final: {summary(metrics)}")
        return metrics

    def teacher(self):
        """The trained teacher and its test metrics: loaded from teacher_checkpoint, from this
        run folder when a resumed run already trained it, or trained now."""
        cfg = self.cfg
        if cfg["teacher_checkpoint"]:
            model, state = load_network(cfg["teacher_checkpoint"], cfg["teacher"], self.num_classes, cfg["embed_dim"],
                                        with_state=True, classes=list(self.train_set.classes))
            self.teacher_code = state.get("code")
            model.to(self.device)
            metrics = evaluate(model, self.loaders[1], self.device, cfg, self.max_iters)
            self.log(f"[teacher] loaded {cfg['teacher_checkpoint']}: {summary(metrics)}")
            return model, metrics
        model = build_network(cfg, "teacher", self.num_classes, self.log)
        done = os.path.join(self.work_dir, "teacher_results.json")
        if self.resume and os.path.isfile(done):
            path = os.path.join(self.work_dir, "teacher_last.pth")
            state = load_checkpoint(path)
            model.load_state_dict(state["model"])
            self.log(f"[teacher] resumed from {path}: trained to the end by an earlier run")
            self.code.resumed(state.get("code"), path, self.log)
            self.teacher_code = state.get("code")
            with open(done) as f:
                return model.to(self.device), json.load(f)
        metrics = self.stage("teacher", build_distiller({"type": "vanilla"}, model), cfg["teacher_train"])
        self.teacher_code = self.code.record()
        if is_main_process():
            with open(done, "w") as f:
                json.dump(metrics, f)
        return model, metrics

    def run(self):
        cfg = self.cfg
        needs_teacher = distiller_class(cfg["distiller"]).needs_teacher  # checks the spec first
        teacher, teacher_metrics = None, None
        if needs_teacher or cfg["teacher_checkpoint"]:
            teacher, teacher_metrics = self.teacher()
        # The student starts from the config's seed, not from the RNG state the teacher stage
        # left behind: a resumed run skips that stage and must build the same student.
        seed_everything(cfg["seed"], cfg["deterministic"])
        student = build_network(cfg, "student", self.num_classes, self.log)
        distiller = build_distiller(cfg["distiller"], student, teacher if needs_teacher else None)
        metrics = self.stage("student", distiller, cfg["student_train"])
        results = {"dataset": cfg["dataset"], "teacher": cfg["teacher"], "student": cfg["student"],
                   "method": cfg["distiller"]["type"], "distiller": distiller_settings(cfg["distiller"]),
                   "seed": cfg["seed"], "img_size": cfg["img_size"],
                   "classes": self.train_set.classes, "teacher_metrics": teacher_metrics,
                   "student_metrics": metrics, "code": self.code.record(),
                   "teacher_code": self.teacher_code}
        if is_main_process():
            with open(os.path.join(self.work_dir, "results.json"), "w") as f:
                json.dump(results, f, indent=1)
        return results
