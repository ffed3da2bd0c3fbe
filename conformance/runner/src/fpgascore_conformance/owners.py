"""Which process a container belongs to, and removing those whose process is gone.

A run that is killed (Ctrl+C twice, SIGKILL, a CI job cancelled) never stops its server
containers; they would keep their ports, memory and CPU until someone removes them by hand.
Every container this package starts carries OWNER_LABEL, "<pid namespace>:<pid>:<start time>"
of the process that started it (the start time, in clock ticks since boot from /proc, tells a
reused pid from the owner). Before it starts one, the package removes the containers whose owner
no longer runs: only those, so concurrent runs (other pytest workers, another checkout) keep
theirs, and only those of its own pid namespace (a run inside a container that shares the
engine cannot see the host's processes, so it leaves the host's containers alone).
"""
from __future__ import annotations

import os
from typing import Any, Optional

OWNER_LABEL = "fpgascore.emulator.owner"


def start_ticks(pid: int) -> Optional[str]:
    """The process's start time (/proc/PID/stat field 22), or None when it does not run."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read(4096).decode("ascii", "replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 and fields[0] not in ("Z", "X") else None


def pid_namespace() -> str:
    """This process's pid namespace, as the kernel names it (its inode number)."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return "?"


def owner_of(pid: int) -> str:
    """OWNER_LABEL's value for a process of this pid namespace."""
    return f"{pid_namespace()}:{pid}:{start_ticks(pid)}"


def this_process() -> str:
    """OWNER_LABEL's value for the running process."""
    return owner_of(os.getpid())


def runs(owner: str) -> bool:
    """Whether the process an OWNER_LABEL value names still runs. A process of another pid
    namespace is taken to run (this one cannot see it); a malformed value does not."""
    namespace, pid, ticks = (owner.split(":") + ["", "", ""])[:3]
    if namespace != pid_namespace():
        return bool(namespace)
    return pid.isdigit() and bool(ticks) and start_ticks(int(pid)) == ticks


def remove_abandoned(client: Any) -> int:
    """Removes the containers labelled OWNER_LABEL whose process no longer runs; how many."""
    import docker

    removed = 0
    # sparse: the listing's own fields (its labels among them), no inspection per container
    for container in client.containers.list(all=True, sparse=True, filters={"label": OWNER_LABEL}):
        if runs((container.attrs.get("Labels") or {}).get(OWNER_LABEL, "")):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.APIError:  # removed meanwhile by another run, or the engine refused
            pass
    return removed
