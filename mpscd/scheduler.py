"""The process scheduler of mpscd.table: main.py runs on slots (one per GPU, or CPU shares),
teachers before their students."""
import functools
import os
import signal
import subprocess
import time

from mpscd.engine.stopping import PREEMPT_SIGNALS, Interrupted, StopSignals, signal_name
from utils.logger import format_duration
from utils.run_lock import BUSY_EXIT_CODE, lock_holder


class Scheduler:
    """Runs jobs on slots (environments: one per GPU, or N CPU shares), teachers before
    the students that need them, and prints a line per finished run with the table's ETA."""

    def __init__(self, jobs, slots, max_iters=None, poll_seconds=1.0, out=functools.partial(print, flush=True)):
        self.jobs, self.free, self.max_iters = jobs, list(slots), max_iters
        self.poll_seconds, self.out = poll_seconds, out
        self.running = {}  # Job -> (process, slot, start time)
        self.durations = []
        self.waiting = set()  # jobs already reported as waiting for another process

    def ready(self):
        """The next job that can start now, marking those whose teacher failed."""
        for job in self.jobs:
            if job.state != "pending":
                continue
            if job.needs and job.needs.state == "failed":
                job.state, job.error = "failed", f"its teacher failed ({job.needs.name})"
                continue
            if job.needs and job.needs.state != "done":
                continue
            if job.finished():  # finished meanwhile by another process
                job.state = "done"
                continue
            holder = lock_holder(job.work_dir)
            if holder:  # another live process writes there: later
                if job.name not in self.waiting:
                    self.waiting.add(job.name)
                    self.out(f"[waiting] {job.name}: its folder is in use by process {holder[0]} on {holder[1]}")
                continue
            return job
        return None

    def run(self):
        """Runs every job; returns the failed ones. SIGTERM or SIGINT is passed on to the runs
        (which save and stop) and, once they have, raises Interrupted."""
        for name in PREEMPT_SIGNALS:  # the runs act on a pre-emption warning; the table must not die of it
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        with StopSignals() as signals:
            while any(job.state in ("pending", "running") for job in self.jobs):
                while self.free and (job := self.ready()):
                    self.start(job, self.free.pop(0))
                self.reap()
                stop, _ = signals.poll()
                if stop:
                    self.stop(stop)
                time.sleep(self.poll_seconds)
        return [job for job in self.jobs if job.state == "failed"]

    def stop(self, signum):
        for process, _, _ in self.running.values():
            process.send_signal(signum)  # a group signal reached them already: a second one is harmless
        for process, _, _ in self.running.values():
            process.wait()
        raise Interrupted(f"{signal_name(signum)}: the running rows saved their checkpoints; "
                          "run the same command again to continue", signum)

    def start(self, job, slot):
        os.makedirs(job.work_dir, exist_ok=True)
        output = open(os.path.join(job.work_dir, "table_output.txt"), "a")
        process = subprocess.Popen(job.command(self.max_iters), env={**os.environ, **slot},
                                   stdout=output, stderr=subprocess.STDOUT)
        output.close()
        job.state = "running"
        self.running[job] = (process, slot, time.time())

    def reap(self):
        for job, (process, slot, started) in list(self.running.items()):
            code = process.poll()
            if code is None:
                continue
            del self.running[job]
            self.free.append(slot)
            if code == BUSY_EXIT_CODE:  # another process took the folder first: wait for it
                job.state = "pending"
            elif code == 0 and job.finished():
                job.state, job.seconds = "done", time.time() - started
                self.durations.append(job.seconds)
                self.report(job)
            else:
                job.state, job.error = "failed", f"exit code {code}: {last_line(job.work_dir)}"
                self.out(f"[failed] {job.name}: {job.error}")

    def report(self, job):
        left = [j for j in self.jobs if j.state in ("pending", "running")]
        slots = len(self.free) + len(self.running)
        eta = sum(self.durations) / len(self.durations) * len(left) / max(slots, 1)
        score = "" if job.label is None else f" mAP {job.results()['student_metrics']['mAP']:.2f}"
        self.out(f"[done] {job.name}:{score} in {format_duration(job.seconds)}; "
                 f"{len(left)} runs left, ETA {format_duration(eta)}")


def last_line(work_dir):
    try:
        with open(os.path.join(work_dir, "table_output.txt")) as f:
            lines = [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return "no output"
    return lines[-1] if lines else "no output"
