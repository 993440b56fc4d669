"""Stopping the way clusters stop jobs. Schedulers (timeout, Slurm, systemd) send SIGTERM to
every process of a job, and Slurm can warn ahead of a pre-emption with another signal
(`--signal=USR1@120`). The handlers here only record a signal; the trainer acts on it after
the step in progress (save, then stop or go on), on every rank at the same step. Loader
workers ignore these signals (`ignore_in_worker`), so that they outlive the main process's
save instead of dying first."""
import os
import signal
import threading

import torch

from utils.distributed import control_group, is_distributed

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PREEMPT_SIGNALS = ("SIGUSR1", "SIGUSR2")  # what the pre-emption warning may be (config: preempt_signal)


class Interrupted(Exception):
    """Raised once the checkpoint of a stopped run is saved; main exits with 128 + signal."""

    def __init__(self, message, signum):
        super().__init__(message)
        self.signum = signum


def signal_name(signum):
    return signal.Signals(signum).name


WORKER_GRACE_SECONDS = 60


def _exit_after_grace(signum, frame):
    """A worker's SIGTERM: exit cleanly (status 0, which the loader does not report as a
    failure) once the main process has had time to finish its step and save. The loader's
    own clean-up also terminates a worker with SIGTERM, rarely: it then waits this long."""
    timer = threading.Timer(WORKER_GRACE_SECONDS, os._exit, (0,))
    timer.daemon = True  # a worker that ends normally meanwhile does not wait for it
    timer.start()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one timer


def ignore_in_worker():
    """In a loader worker: the main process handles the stop and pre-emption signals; a
    group SIGTERM ends the worker only after a grace period (it must outlive the save)."""
    for sig in (signal.SIGINT, *(getattr(signal, name) for name in PREEMPT_SIGNALS)):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_after_grace)


class StopSignals:
    """Context manager that records SIGTERM / SIGINT (stop) and the pre-emption signal
    (checkpoint; then stop if preempt_action is "stop", else go on)."""

    def __init__(self, preempt_signal=None, preempt_action="continue"):
        self.preempt = getattr(signal, preempt_signal) if preempt_signal else None
        self.preempt_stops = preempt_action == "stop"
        self.stop_signal, self.preempted = 0, False

    def __enter__(self):
        handled = [*STOP_SIGNALS, *([self.preempt] if self.preempt else [])]
        self.previous = {s: signal.signal(s, self._record) for s in handled}
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _record(self, signum, frame):
        if signum == self.preempt:
            self.preempted = True
            if self.preempt_stops:
                self.stop_signal = signum
        else:
            self.stop_signal = signum

    def poll(self):
        """(stop signal number or 0, pre-empted) since the last poll, the same on every rank:
        a signal that reached one rank acts on all of them at this step. A CPU all-reduce
        over gloo: the device is never waited for."""
        flags = torch.tensor([self.stop_signal, int(self.preempted)])
        self.preempted = False
        if is_distributed():
            torch.distributed.all_reduce(flags, torch.distributed.ReduceOp.MAX, group=control_group())
        return int(flags[0]), bool(flags[1])
