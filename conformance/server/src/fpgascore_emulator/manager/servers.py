"""A service's servers as one thing to start, check, reload, find and stop: a lone server on
the service's address (one replica), or N replicas, each on a loopback port of its own,
behind a balancer on the service's address (balancer.py). The runtime (process or
container) runs each piece; this module only composes them.

A service of several replicas has the handle ``{"port", "replicas": [ref, ...],
"balancer": ref}``; a lone server's handle is the server's own (the shape every earlier
manager stored, so their services are adopted unchanged).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from ..logs import log
from .runtime import Handle, Runtime, RuntimeFailure, ServerSpec, free_port


def _replicated(ref: Dict[str, Any]) -> bool:
    return "replicas" in ref


class ServiceServers:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def parts(self, handle: Handle) -> Tuple[List[Handle], Optional[Handle]]:
        """The replicas' handles and the balancer's (None for a lone server)."""
        if not _replicated(handle.ref):
            return [handle], None
        replicas = [Handle(int(ref.get("port", 0)), ref) for ref in handle.ref["replicas"]]
        front = handle.ref.get("balancer") or {}
        return replicas, (Handle(handle.port, front) if front else None)

    # -- start and stop -------------------------------------------------------------------
    def start(self, spec: ServerSpec, replicas: int) -> Handle:
        if replicas <= 1:
            return self.runtime.start(spec)
        spec = dataclasses.replace(spec, port=spec.port or free_port(spec.host))
        started: List[Handle] = []
        try:
            for index in range(replicas):
                started.append(self.runtime.start(spec.replica_spec(index, replicas)))
            front = self.runtime.start_balancer(spec, [self.runtime.backend_address(h) for h in started])
        except (RuntimeFailure, OSError):
            self._stop_quietly(started)
            raise
        return Handle(spec.port, {"port": spec.port, "replicas": [h.ref for h in started], "balancer": front.ref})

    def _stop_quietly(self, handles: List[Handle]) -> None:
        for handle in handles:
            try:
                self.runtime.stop(handle)
            except RuntimeFailure as error:
                log("manager.stop_failed", error=str(error))

    def stop(self, handle: Handle) -> None:
        """The balancer first (no new connection reaches a stopping replica), then each replica."""
        if not handle.ref:
            return
        replicas, front = self.parts(handle)
        for part in ([front] if front else []) + replicas:
            self.runtime.stop(part)

    def stop_leftovers(self, spec: ServerSpec, replicas: int) -> None:
        """Stops any server or balancer of the service still running (a manager that stopped
        between starting one and saving it, or a scaling cut short)."""
        for count in sorted({1, max(replicas, 1)}):
            handle = self.find(spec, {}, count, partial=True)
            if handle is not None:
                self.stop(handle)

    # -- state ----------------------------------------------------------------------------
    def alive(self, handle: Handle) -> bool:
        """Every replica and the balancer run (one dead replica: the service is restarted)."""
        replicas, front = self.parts(handle)
        return all(self.runtime.alive(part) for part in ([front] if front else []) + replicas)

    def find(self, spec: ServerSpec, ref: Dict[str, Any], replicas: int, partial: bool = False) -> Optional[Handle]:
        """The service's running servers; None unless every piece runs (then the pieces found
        are stopped, so the manager starts them afresh) — or, ``partial``, whatever runs."""
        if replicas <= 1 and not _replicated(ref):
            return self.runtime.find(spec, ref)
        refs = ref.get("replicas", []) if _replicated(ref) else []
        found: List[Optional[Handle]] = []
        for index in range(replicas):
            own = refs[index] if index < len(refs) else {}
            found.append(self.runtime.find(spec.replica_spec(index, replicas), own))
        front = self.runtime.find_balancer(spec, ref.get("balancer", {}) if _replicated(ref) else {})
        pieces = [h for h in found if h is not None]
        if partial:
            if not pieces and front is None:
                return None
            return Handle(spec.port, {"port": spec.port, "replicas": [h.ref for h in pieces],
                                      "balancer": front.ref if front else {}})
        if front is None or len(pieces) != replicas:
            self._stop_quietly(pieces + ([front] if front else []))
            return None
        return Handle(spec.port, {"port": spec.port, "replicas": [h.ref for h in pieces], "balancer": front.ref})

    def reload(self, handle: Handle, tls: bool) -> None:
        """Each replica reloads the service's secrets (the balancer holds none)."""
        replicas, _ = self.parts(handle)
        for part in replicas:
            self.runtime.reload(part, tls)

    def metrics_addresses(self, handle: Handle) -> List[Optional[Tuple[str, int]]]:
        replicas, _ = self.parts(handle)
        return [self.runtime.metrics_address(part) for part in replicas]

    def trim_logs(self, handle: Handle) -> None:
        replicas, front = self.parts(handle)
        for part in replicas + ([front] if front else []):
            self.runtime.trim_log(part)
