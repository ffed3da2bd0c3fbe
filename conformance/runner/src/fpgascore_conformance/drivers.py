"""Conformance drivers: one program per language speaking JSON lines (CLIENT_SPEC.md).

A DriverProcess sends one request line and waits for its answer line with a timeout; a
driver that crashes, hangs or answers garbage fails that case only and is restarted for the
next one.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import queue
import subprocess
import threading
from typing import Dict, List, Optional, Sequence

REPO_ROOT = pathlib.Path(__file__).resolve().parents[4]
TOOLS = REPO_ROOT / ".tools"


@dataclasses.dataclass(frozen=True)
class DriverSpec:
    language: str
    build: Optional[Sequence[str]]      # a command run once from the repo root, or None
    run: Sequence[str]                  # the driver command, from the repo root
    env: Dict[str, str] = dataclasses.field(default_factory=dict)


def python_executable() -> str:
    return os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3")


DRIVERS: Dict[str, DriverSpec] = {
    "python": DriverSpec(
        "python", None, [python_executable(), "conformance/drivers/python/driver.py"],
        {"PYTHONPATH": str(REPO_ROOT / "python" / "src")}),
    "go": DriverSpec(
        "go",
        ["bash", "-c", "source scripts/go-env.sh && cd go && "
                       "go build -o ../.tools/bin/fpgascore-conformance ./cmd/fpgascore-conformance"],
        [str(TOOLS / "bin" / "fpgascore-conformance")]),
    "csharp": DriverSpec(
        "csharp",
        ["dotnet", "build", "csharp/FpgaScore.Conformance/FpgaScore.Conformance.csproj", "-c", "Release",
         "-o", str(TOOLS / "csharp-conformance"), "--nologo", "-v", "quiet"],
        ["dotnet", str(TOOLS / "csharp-conformance" / "FpgaScore.Conformance.dll")],
        {"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"}),
}
LANGUAGES = list(DRIVERS)


class DriverFailure(Exception):
    """The driver crashed, hung or broke the protocol."""


def build(spec: DriverSpec, log_path: pathlib.Path) -> None:
    if spec.build is None:
        return
    with open(log_path, "wb") as log:
        result = subprocess.run(list(spec.build), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **spec.env}, timeout=900)
    if result.returncode != 0:
        raise DriverFailure(f"building the {spec.language} driver failed (exit {result.returncode}); "
                            f"see {log_path}")


class DriverProcess:
    def __init__(self, spec: DriverSpec, extra_env: Dict[str, str], stderr_path: pathlib.Path) -> None:
        self.spec = spec
        self._env = {**os.environ, **spec.env, **extra_env}
        if "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" not in extra_env:
            self._env.pop("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", None)
        self._stderr_path = stderr_path
        self._process: Optional[subprocess.Popen] = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def _start(self) -> None:
        self._close_stderr()
        self._stderr = open(self._stderr_path, "ab")
        self._process = subprocess.Popen(list(self.spec.run), cwd=REPO_ROOT, env=self._env, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._process, self._lines), daemon=True).start()

    @staticmethod
    def _read(process: subprocess.Popen, lines: "queue.Queue[Optional[str]]") -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    def request(self, message: dict, timeout: float) -> dict:
        if self._process is None or self._process.poll() is not None:
            self._start()
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self._kill()
            raise DriverFailure(f"driver did not take the request: {error}; stderr: {self.stderr_tail()}")
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            raise DriverFailure(f"driver did not answer within {timeout:.0f} s (killed)") from None
        if line is None:
            code = self._process.wait()
            self._process = None
            self._close_stderr()
            raise DriverFailure(f"driver exited with {code} before answering; stderr: {self.stderr_tail()}")
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            self._kill()
            raise DriverFailure(f"driver answered something that is not JSON: {line[:200]!r}") from None
        if answer.get("id") != message["id"]:
            self._kill()
            raise DriverFailure(f"driver answered id {answer.get('id')!r} to request {message['id']!r}")
        return answer

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self._stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        self._close_stderr()

    def _close_stderr(self) -> None:
        stderr = getattr(self, "_stderr", None)
        if stderr is not None:
            stderr.close()
            self._stderr = None

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self._kill()
        self._process = None
        self._close_stderr()


def languages_from(text: Optional[str]) -> List[str]:
    if not text:
        return list(LANGUAGES)
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [c for c in chosen if c not in DRIVERS]
    if unknown:
        raise SystemExit(f"unknown language(s) {unknown}; choose from {LANGUAGES}")
    return chosen
