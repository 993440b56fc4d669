"""One training stage (the teacher's or the student's): Adam + OneCycle, AMP, evaluation
after every epoch, atomic checkpoints, exact resume, progress lines and JSON-lines metrics."""
import itertools
import os
import time

import torch
from torch.nn.parallel import DistributedDataParallel

from mpscd.engine.diagnostics import Diagnostics
from mpscd.engine.evaluation import autocast, channels_last, evaluate, needs_grad_scaler, network_input, summary
from mpscd.engine.stopping import Interrupted, signal_name
from utils import UserError
from utils.checkpoint import load_checkpoint, save_checkpoint
from utils.distributed import barrier, is_distributed, is_main_process, on_every_rank
from utils.logger import append_jsonl, format_duration
from utils.seed import rng_state, set_rng_state


def build_optimizer(named_parameters, lr, weight_decay):
    """Adam as in L2D, with no weight decay on biases, norms and other 1-d parameters."""
    decay = [p for n, p in named_parameters if p.ndim > 1 and not n.endswith(".bias")]
    no_decay = [p for n, p in named_parameters if not (p.ndim > 1 and not n.endswith(".bias"))]
    return torch.optim.Adam([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)


def tensorboard_writer(work_dir, stage):
    """A TensorBoard writer into work_dir/tensorboard/<stage> when tensorboard is installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(os.path.join(work_dir, "tensorboard", stage))


class LossSums:
    """Each loss term summed over the epoch's steps on the device (no synchronisation per
    step), and the window of steps whose finiteness is not yet known."""

    def __init__(self, first_unchecked):
        self.sums, self.count, self.first_unchecked = {}, 0, first_unchecked

    def add(self, terms):
        for k, v in terms.items():
            self.sums[k] = self.sums.get(k, 0.0) + v.detach().float()
        self.count += 1

    def means(self):
        return {k: v.item() / max(self.count, 1) for k, v in self.sums.items()}

    def unchecked_window(self, iteration):
        """None if every sum is finite on every rank (then the window restarts after
        `iteration`), else the text naming the iterations since the last check. All ranks
        agree: a NaN on one rank reaches every replica through the gradients' average, and
        rank 0 must not save it."""
        if on_every_rank(all(torch.isfinite(v) for v in self.sums.values())):
            self.first_unchecked = iteration + 1
            return None
        first = self.first_unchecked
        return f"iteration {first}" if first == iteration else f"iterations {first}-{iteration}"


class StageTrainer:
    """Trains `distiller` (whose .student is the network of this stage) for `schedule`.

    Files in work_dir: <stage>_last.pth (every epoch and every `checkpoint_interval`
    iterations), <stage>_best.pth (best test mAP), and records in metrics.jsonl.
    """

    def __init__(self, stage, distiller, cfg, schedule, loaders, device, work_dir, log, signals, code,
                 max_iters=None, classes=None):
        self.stage, self.distiller, self.cfg, self.schedule = stage, distiller, cfg, schedule
        self.signals = signals  # StopSignals: polled after every step
        self.code = code  # RunCode: recorded in checkpoints, checked on resume
        self.train_loader, self.test_loader, self.init_loader = loaders
        self.device, self.work_dir, self.log = device, work_dir, log
        self.max_iters, self.is_main, self.classes = max_iters, is_main_process(), classes
        # Under torchrun: one replica per process; gradients of the student and the heads
        # are averaged over ranks (the frozen teacher has none to synchronise).
        self.forward = distiller
        if is_distributed():
            self.forward = DistributedDataParallel(
                distiller, device_ids=[device.index] if device.type == "cuda" else None)
        # From the whole epoch: the sampler, shared by both stages, may still hold the
        # teacher's resume offset.
        self.iters_per_epoch = self.train_loader.sampler.items_per_epoch // cfg["batch_size"]
        if self.iters_per_epoch == 0:
            raise UserError(f"the training set has fewer images than batch_size={cfg['batch_size']}")
        self.optimizer = build_optimizer(distiller.trainable_parameters(), schedule["lr"], schedule["weight_decay"])
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=schedule["lr"], epochs=schedule["epochs"],
            steps_per_epoch=self.iters_per_epoch, pct_start=schedule["pct_start"])
        self.scaler = torch.amp.GradScaler("cuda", enabled=needs_grad_scaler(device, cfg))
        self.epoch, self.iter_in_epoch, self.global_iter, self.best_map = 0, 0, 0, -1.0
        self.compiling_since = None
        self.tensorboard = tensorboard_writer(work_dir, stage) if self.is_main else None
        if cfg["cache_teacher_outputs"] and is_distributed():
            raise UserError("cache_teacher_outputs remembers the images of one process; run without torchrun")
        self.diagnostics = None
        if cfg["diagnostics"]:
            if is_distributed():
                raise UserError("diagnostics measure in one process; run without torchrun")
            self.diagnostics = Diagnostics(distiller, cfg["diagnostics"])

    # ---- checkpoints -------------------------------------------------------------
    def path(self, kind):
        return os.path.join(self.work_dir, f"{self.stage}_{kind}.pth")

    def state(self):
        net = self.distiller.student
        return {"model": net.state_dict(), "arch": net.arch, "num_classes": net.num_classes,
                "embed_dim": net.head.queries.shape[1], "stage": self.stage, "classes": self.classes,
                "distiller": self.distiller.extra_state(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "iter_in_epoch": self.iter_in_epoch, "global_iter": self.global_iter,
                "best_map": self.best_map, "rng": rng_state(), "config": dict(self.cfg),
                "code": self.code.record()}

    def save(self, kind="last"):
        """last: everything a resume needs; best: no optimizer, scheduler or RNG state, which
        only a resume reads (a third of the size with Adam)."""
        if self.is_main:
            state = self.state()
            if kind == "best":
                state = {k: v for k, v in state.items() if k not in ("optimizer", "scheduler", "scaler", "rng")}
            save_checkpoint(state, self.path(kind))

    def resume(self):
        state = load_checkpoint(self.path("last"), map_location=self.device)
        self.distiller.student.load_state_dict(state["model"])
        self.distiller.load_extra_state(state["distiller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.iter_in_epoch = state["epoch"], state["iter_in_epoch"]
        self.global_iter, self.best_map = state["global_iter"], state["best_map"]
        set_rng_state(state["rng"])
        self.log(f"[{self.stage}] resumed from {self.path('last')} at epoch {self.epoch + 1}, "
                 f"iteration {self.iter_in_epoch} of {self.iters_per_epoch}")
        self.code.resumed(state.get("code"), self.path("last"), self.log)

    def prepare_batches(self):
        """The training set in its test-time transform, --max_iters batches at most (a
        quick check); lazy: a method that needs no pass starts no loader."""
        yield from itertools.islice(self.init_loader, self.max_iters)

    # ---- loop ----------------------------------------------------------------------
    def done(self):
        return self.epoch >= self.schedule["epochs"] or (
            self.max_iters is not None and self.global_iter >= self.max_iters)

    def train(self, resume=False):
        """Runs the stage to its end and returns the final evaluation's metrics."""
        if self.cfg["cache_teacher_outputs"] and self.distiller.teacher is not None:
            # before a resume restores the RNG state: the pass's loader draws from it
            with autocast(self.device, self.cfg):
                self.distiller.remember_teacher(self.prepare_batches(), self.device, channels_last(self.device, self.cfg))
        if resume and os.path.isfile(self.path("last")):
            self.resume()  # the checkpoint holds the prepared state (e.g. prototypes)
        else:
            # in the training's precision and layout
            with autocast(self.device, self.cfg):
                self.distiller.prepare(self.prepare_batches(), self.device, channels_last(self.device, self.cfg))
        self.compiling_since = time.time() if self.cfg["compile"] else None
        metrics = None
        while not self.done():
            self.train_epoch()
            metrics = self.end_epoch()
        return metrics if metrics is not None else self.evaluate()  # None: resumed after the last epoch

    def train_epoch(self):
        self.distiller.train()
        self.train_loader.sampler.set_epoch(self.epoch, self.iter_in_epoch * self.cfg["batch_size"])
        losses, tic = LossSums(first_unchecked=self.iter_in_epoch + 1), time.time()
        for batch in self.train_loader:
            losses.add(self.step(batch))
            self.iter_in_epoch += 1
            self.global_iter += 1
            self.after_step(losses, time.time() - tic)
            if self.reached_max_iters():
                break
        self.train_terms = losses.means()

    def step(self, batch):
        """One optimisation step; returns the weighted loss terms."""
        images = network_input(batch["image"], self.device, channels_last(self.device, self.cfg))
        targets = batch["target"].to(self.device, non_blocking=True)
        self.distiller.progress = self.global_iter / (self.schedule["epochs"] * self.iters_per_epoch)
        with autocast(self.device, self.cfg):
            terms = self.forward(images, targets)
        if self.diagnostics is not None:
            self.diagnostics.measure(terms, targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(sum(terms.values())).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.compiling_since is not None:  # compilation happens in the first step
            took = format_duration(time.time() - self.compiling_since)
            self.log(f"[{self.stage}] first step with torch.compile: {took} "
                     "(compiling the backbones and the distillation terms)")
            self.compiling_since = None
        return terms

    def reached_max_iters(self):
        return self.max_iters is not None and self.global_iter >= self.max_iters

    def after_step(self, losses, elapsed):
        """Progress line, checkpoint, stop: where due. The losses are read (the host waits
        for the device) only before a print or a save, never on other steps."""
        cfg, n = self.cfg, self.iter_in_epoch
        stop, preempted = self.signals.poll()
        saves = bool(stop or preempted or (cfg["checkpoint_interval"] and n % cfg["checkpoint_interval"] == 0))
        prints = n % cfg["print_freq"] == 0 or n == self.iters_per_epoch
        if saves or prints or self.reached_max_iters():
            self.check_finite(losses)
        if prints:
            self.progress(losses, elapsed)
        if saves:
            self.save()
        if not (preempted or stop):
            return
        where = f"checkpoint {self.path('last')} saved at epoch {self.epoch + 1}, iteration {n}"
        if preempted:
            self.log(f"[{self.stage}] pre-emption signal: {where}")
        if stop:
            message = f"[{self.stage}] {signal_name(stop)}: {where}; continue with --resume"
            self.log(message)
            barrier()  # no rank leaves before rank 0's checkpoint is complete
            raise Interrupted(message, stop)

    def check_finite(self, losses):
        """Stops before the next checkpoint if a loss term became non-finite since the last check."""
        window = losses.unchecked_window(self.iter_in_epoch)
        if window is None:
            return
        values = ", ".join(f"{k}={v.item():.4g}" for k, v in losses.sums.items())
        where = " on this rank" if is_distributed() else ""
        raise UserError(f"[{self.stage}] non-finite loss at epoch {self.epoch + 1}, {window} (sums over the epoch"
                        f"{where}: {values}); the last good checkpoint is {self.path('last')}; "
                        "lower the learning rate or the loss weights")

    def progress(self, losses, elapsed):
        means, count = losses.means(), losses.count
        if self.tensorboard is not None:
            for k, v in means.items():
                self.tensorboard.add_scalar(f"loss/{k}", v, self.global_iter)
            self.tensorboard.add_scalar("lr", self.scheduler.get_last_lr()[0], self.global_iter)
        terms = "  ".join(f"{k} {v:.4f}" for k, v in means.items())
        speed = count * self.cfg["batch_size"] / max(elapsed, 1e-9)
        remaining = (self.schedule["epochs"] - self.epoch) * self.iters_per_epoch - self.iter_in_epoch
        if self.max_iters is not None:
            remaining = min(remaining, self.max_iters - self.global_iter)
        eta = remaining * elapsed / count
        self.log(f"[{self.stage}] epoch {self.epoch + 1}/{self.schedule['epochs']} "
                 f"iter {self.iter_in_epoch}/{self.iters_per_epoch}  {terms}  "
                 f"lr {self.scheduler.get_last_lr()[0]:.2e}  {speed:.1f} img/s  eta {format_duration(eta)}")

    def evaluate(self):
        if is_distributed():  # every rank scores with rank 0's BatchNorm statistics, the ones saved
            for buffer in self.distiller.student.buffers():
                torch.distributed.broadcast(buffer, 0)
        return evaluate(self.distiller.student, self.test_loader, self.device, self.cfg, self.max_iters)

    def end_epoch(self):
        """Evaluate (every eval_interval epochs and after the last), log, checkpoint."""
        self.epoch += 1
        self.iter_in_epoch = 0
        metrics = None
        interval = self.cfg["eval_interval"]
        if (interval and self.epoch % interval == 0) or self.done():
            metrics = self.evaluate()
            is_best = metrics["mAP"] > self.best_map
            self.best_map = max(self.best_map, metrics["mAP"])
            self.log(f"[{self.stage}] epoch {self.epoch}/{self.schedule['epochs']} test: {summary(metrics)}"
                     f"{'  (best)' if is_best else ''}")
            if self.tensorboard is not None:
                for k, v in metrics.items():
                    if k != "AP":
                        self.tensorboard.add_scalar(f"test/{k}", v, self.epoch)
                self.tensorboard.flush()
        diagnostics = self.diagnostics.epoch_summary() if self.diagnostics is not None else {}
        if self.tensorboard is not None:
            for k, v in diagnostics.items():
                self.tensorboard.add_scalar(k, v, self.epoch)
        if self.is_main:
            append_jsonl(os.path.join(self.work_dir, "metrics.jsonl"), {
                "stage": self.stage, "epoch": self.epoch, "iter": self.global_iter,
                "lr": self.scheduler.get_last_lr()[0], **{f"loss_{k}": v for k, v in self.train_terms.items()},
                **{k: v for k, v in (metrics or {}).items() if k != "AP"}, **diagnostics})
        self.save()
        if metrics is not None and is_best:
            self.save("best")
        return metrics
