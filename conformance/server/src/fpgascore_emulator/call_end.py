"""Knowing, inside a handler, that its call has ended: the caller cancelled or went away, the
deadline passed, or the server's drain ran out. Work done for such a call is wasted, so the
pipeline stops and frees what the call held (its FPGA queue places) at once."""
from __future__ import annotations

import threading
from typing import Callable, List

import grpc


class CallEnd:
    def __init__(self, context: grpc.ServicerContext) -> None:
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: List[Callable[[], None]] = []
        # grpcio runs the callback when the RPC terminates; False: it has already terminated.
        if not context.add_callback(self._fire):
            self._fire()

    @property
    def ended(self) -> bool:
        return self.event.is_set()

    def on_end(self, hook: Callable[[], None]) -> None:
        """Runs ``hook`` when the call ends (at once if it has)."""
        with self._lock:
            if not self.event.is_set():
                self._hooks.append(hook)
                return
        hook()

    def _fire(self) -> None:
        with self._lock:
            self.event.set()
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()
