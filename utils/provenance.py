"""What code and machine a run ran on, recorded in its log and results.json: numbers
from different commits are not comparable (float-level changes move a seed's mAP)."""
import hashlib
import os
import platform
import subprocess

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(*args):
    try:
        out = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError, ValueError):  # ValueError: output that is not UTF-8
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _edits():
    """False when the tracked files other than documents (*.md) are as committed; else a hash
    of the edited files' names and contents (the files themselves, not a diff, which git's
    settings would shape), or True when git cannot list them."""
    names = _git("diff", "--name-only", "--no-renames", "-z", "HEAD", "--", ".", ":(exclude)*.md")
    if names is None:
        return True
    if not names:
        return False
    digest = hashlib.sha1()
    for name in sorted(filter(None, names.split("\0"))):
        path = os.path.join(REPO, name)
        content = open(path, "rb").read() if os.path.isfile(path) else b"(deleted)"
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:8]


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    capability = torch.backends.cpu.get_cpu_capability()
    return f"cpu ({platform.processor() or platform.machine()}, {capability}, {torch.get_num_threads()} threads)"


def code_version(device):
    """{commit, dirty, torch, device}; commit None outside a git checkout (e.g. an archive).
    dirty (see _edits): False, or a hash of uncommitted edits, so that two different edits of
    one commit are different code (untracked files, such as run folders, do not count)."""
    commit = _git("rev-parse", "HEAD")
    dirty = _edits() if commit else False
    return {"commit": commit, "dirty": dirty, "torch": str(torch.__version__), "device": device_name(device)}


def describe(version):
    """One line for the log."""
    commit = version["commit"] or "unknown (not a git checkout)"
    dirty = f" with uncommitted changes ({version['dirty']})" if version["dirty"] else ""
    return f"code {commit}{dirty}, torch {version['torch']}, device {version['device']}"


def short(version):
    """A record as a table shows it: the short commit, "+" and the hash of uncommitted changes
    (just "+" in records older than the hash), the commits a resumed run started with in
    brackets; "unrecorded" for runs older than the record."""
    if not version or not version.get("commit"):
        return "unrecorded"
    edits = version["dirty"]
    text = version["commit"][:8] + ("+" + (edits if isinstance(edits, str) else "") if edits else "")
    earlier = version.get("resumed_from")
    return f"{text} (resumed from {', '.join(short(v) for v in earlier)})" if earlier else text


def _code(version):
    """(commit, dirty) of a record; None for a checkpoint written before the record."""
    return None if version is None else (version.get("commit"), version.get("dirty"))


class RunCode:
    """The code of a run that may be resumed: this process's record, and those of the
    processes whose checkpoints it continued where they differ (a pull between a kill and
    its resume mixes commits in one result; results.json then says so). Checkpoints carry
    the whole record, so a chain of resumes keeps every commit it went through."""

    def __init__(self, version):
        self.version, self.earlier = version, []

    def resumed(self, record, path, log):
        """Note the record of a checkpoint this run continues (None: written before the record)."""
        if record is None:
            versions = [None]
        else:
            versions = [{k: v for k, v in record.items() if k != "resumed_from"}, *record.get("resumed_from", [])]
        for version in versions:
            known = [_code(v) for v in (self.version, *self.earlier)]  # the same code on another device is the same
            if _code(version) in known:
                continue
            self.earlier.append(version)
            log(f"warning: {path} was written by code {short(version)}, this process runs "
                f"{short(self.version)}: the result mixes the two")

    def record(self):
        return {**self.version, "resumed_from": list(self.earlier)} if self.earlier else dict(self.version)
