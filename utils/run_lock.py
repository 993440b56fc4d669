"""One writer per run folder: a lock file naming the process that holds it.

A lock whose process has died (killed, crashed machine) is stale and is taken over; a lock
held by a live process, or by another host (whose processes cannot be checked from
here), is refused."""
import json
import os
import socket

from utils import UserError

LOCK_NAME = "run.lock"
BUSY_EXIT_CODE = 75  # main.py's exit status when the folder is busy (EX_TEMPFAIL: try later)


class RunFolderBusy(UserError):
    """Another live process writes into this run folder."""


def lock_holder(folder, name=LOCK_NAME):
    """(pid, host) of the lock's holder if a live process (or another host) holds it, else None."""
    try:
        with open(os.path.join(folder, name)) as f:
            holder = json.load(f)
    except FileNotFoundError:
        return None
    if holder["host"] == socket.gethostname() and not _alive(holder["pid"]):
        return None
    return holder["pid"], holder["host"]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class RunLock:
    """`with RunLock(folder):` holds the folder's lock for this process (`name`: one of
    several locks in a folder)."""

    def __init__(self, folder, name=LOCK_NAME):
        self.path = os.path.join(folder, name)

    def __enter__(self):
        # Written whole under a private name, then linked into place: the link fails if
        # the lock exists, and a lock is never seen half-written.
        mine = f"{self.path}.{os.getpid()}"
        with open(mine, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname()}, f)
        try:
            self._take(mine)
        finally:
            os.remove(mine)
        return self

    def _take(self, mine):
        for _ in range(2):  # the second try follows removing a stale lock
            try:
                os.link(mine, self.path)
                return
            except FileExistsError:
                holder = lock_holder(*os.path.split(self.path))
                if holder:
                    raise RunFolderBusy(f"run folder {os.path.dirname(self.path)} is in use by process {holder[0]} "
                                        f"on {holder[1]} (delete {self.path} if that process no longer runs)")
                os.remove(self.path)  # stale: its process is gone
        raise RunFolderBusy(f"cannot take the lock {self.path}: another process took it first")

    def __exit__(self, *exc):
        os.remove(self.path)
