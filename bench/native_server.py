"""The native benchmark partner: the Go null server (go/internal/cmd/bench-null-server, built
by bench/clients.py into .tools/bin/fpgascore-bench-null-server), a PredictionService that does no
work at all (uniform scores, the reference server's answer shape). Against the Python
reference server a call's latency is mostly that server's own per-call cost; against this
one it is mostly the client's and the transport's, which is what the TCP floor measures.

It runs with GOMAXPROCS=1 (unless the environment sets GOMAXPROCS): between calls, Go's idle
threads spin looking for work, and on a 2-core machine a server spinning on both cores takes
CPU from the client under test. Measured here (2026-11-29, 150 KB JPEG, concurrency 1): the Go
client's p50 0.65-0.75 ms against a default server, 0.43-0.53 ms against a GOMAXPROCS=1 one;
the C# client's about the same either way.

    with NativeServer(binary, tls=(cert, key), key_env="VAR") as server:
        server.port
"""
from __future__ import annotations

import os
import pathlib
import subprocess
from typing import Optional, Tuple


class NativeServer:
    def __init__(self, binary: pathlib.Path, tls: Optional[Tuple[pathlib.Path, pathlib.Path]] = None,
                 key_env: Optional[str] = None) -> None:
        self.command = [str(binary), "--host", "127.0.0.1", "--port", "0"]
        if tls:
            self.command += ["--tls", "--cert", str(tls[0]), "--key", str(tls[1])]
        if key_env:
            self.command += ["--key-env", key_env]
        self._process: Optional[subprocess.Popen] = None
        self.port = 0

    def __enter__(self) -> "NativeServer":
        env = {**os.environ, "GOMAXPROCS": os.environ.get("GOMAXPROCS", "1")}
        self._process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env=env)
        line = self._process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self._process.kill()
            raise RuntimeError(f"{' '.join(self.command)} did not start: {line!r} {self._process.stderr.read()[-800:]}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def __exit__(self, *exc) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
