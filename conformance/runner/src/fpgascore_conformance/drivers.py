"""Conformance drivers: programs speaking the driver protocol (JSON lines of
proto/fpgascore/conformance/v1/driver.proto) on stdin and stdout.

A driver is a DriverSpec: a command, the directory it runs in, its environment, an optional
build step and its known-failing list. The built-in drivers (python, go, csharp) are specs
like any other; ``--driver NAME=COMMAND`` adds external ones (external_spec).

A DriverProcess starts the command, exchanges Hello / HelloAnswer (refusing another major
version), makes its warm-up call (below), then sends one DriverRequest line and waits for its
DriverAnswer with a timeout; a driver that crashes, hangs or answers garbage fails that case
only and is restarted for the next one.

The warm-up call: each driver process, once started, scores one image against a plaintext
reference server before it takes a case, its answer not judged. A process's first call pays
for its runtime's cold start (JIT, the HTTP/2 path, loading the client): up to seconds in a
fresh `dotnet` on a loaded host, which a case that cancels a call 300 ms in, or allows a
deadline, would otherwise measure.
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
import pathlib
import queue
import re
import shlex
import subprocess
import threading
from typing import Any, BinaryIO, Dict, IO, List, Optional, Sequence, cast

from . import protocol
from .protocol import pb

REPO_ROOT = pathlib.Path(__file__).resolve().parents[4]
TOOLS = REPO_ROOT / ".tools"
KNOWN_FAILING_DIR = REPO_ROOT / "conformance" / "known_failing"
HELLO_TIMEOUT_S = 120.0  # a cold `dotnet` start on a loaded 2-core machine takes a while
WARM_UP_TIMEOUT_S = 60.0
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@dataclasses.dataclass(frozen=True)
class DriverSpec:
    name: str                           # the matrix column
    run: Sequence[str]                  # the driver command
    cwd: pathlib.Path                   # where it runs
    build: Optional[Sequence[str]] = None   # a command run once from the repo root, or None
    env: Dict[str, str] = dataclasses.field(default_factory=dict)
    known_failing: Optional[pathlib.Path] = None   # case-id globs, one a line ('#' comments)
    client_version: Optional[str] = None   # the clientVersion its HelloAnswer must say (--artifacts), or None


def python_executable() -> str:
    return os.environ.get("FPGASCORE_PYTHON", "/usr/bin/python3")


def _builtin(name: str, run: Sequence[str], build: Optional[Sequence[str]] = None,
             env: Optional[Dict[str, str]] = None) -> DriverSpec:
    return DriverSpec(name, run, REPO_ROOT, build, env or {}, KNOWN_FAILING_DIR / f"{name}.txt")


DRIVERS: Dict[str, DriverSpec] = {
    "python": _builtin(
        "python", [python_executable(), str(REPO_ROOT / "conformance" / "drivers" / "python" / "driver.py")],
        env={"PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("python/src", "conformance/runner/src"))}),
    "go": _builtin(
        "go", [str(TOOLS / "bin" / "fpgascore-conformance")],
        build=["bash", "-c", "source scripts/go-env.sh && cd go && "
                             "go build -o ../.tools/bin/fpgascore-conformance ./cmd/fpgascore-conformance"]),
    "csharp": _builtin(
        "csharp", ["dotnet", str(TOOLS / "csharp-conformance" / "FpgaScore.Conformance.dll")],
        # No analyzers (they do not change the build; the lint suite runs them): 40 % of its CPU.
        build=["dotnet", "build", "csharp/FpgaScore.Conformance/FpgaScore.Conformance.csproj", "-c", "Release",
               "-o", str(TOOLS / "csharp-conformance"), "--nologo", "-v", "quiet", "-p:RunAnalyzers=false"],
        env={"DOTNET_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_NOLOGO": "1"}),
}
LANGUAGES = list(DRIVERS)


def caller_dir() -> pathlib.Path:
    """Where the user ran the runner from (scripts/conformance.sh changes to the repo root
    and passes the directory it was started in as FPGASCORE_CALLER_DIR)."""
    return pathlib.Path(os.environ.get("FPGASCORE_CALLER_DIR") or os.getcwd())


def _name_and_value(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not value.strip():
        raise SystemExit(f"{option} wants NAME=VALUE, not {text!r}")
    if not NAME.match(name):
        raise SystemExit(f"{option}: {name!r} is not a driver name (letters, digits, '_', '-', '.'; up to 40)")
    return name, value.strip()


def known_failing_files(texts: Sequence[str]) -> Dict[str, pathlib.Path]:
    """--known-failing NAME=FILE options, FILE relative to the caller's directory."""
    files: Dict[str, pathlib.Path] = {}
    for text in texts:
        name, value = _name_and_value(text, "--known-failing")
        path = caller_dir() / value
        if not path.is_file():
            raise SystemExit(f"--known-failing {name}: no file {path}")
        files[name] = path
    return files


def external_spec(text: str, known_failing: Optional[pathlib.Path] = None) -> DriverSpec:
    """A --driver NAME=COMMAND option: COMMAND split as a shell would (no shell runs it),
    run in the caller's directory with the runner's environment."""
    name, command = _name_and_value(text, "--driver")
    if name in DRIVERS:
        raise SystemExit(f"--driver {name}: {name!r} is a built-in driver's name; choose another")
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise SystemExit(f"--driver {name}: cannot split {command!r}: {error}") from None
    return DriverSpec(name, argv, caller_dir(), None, {}, known_failing)


def chosen_languages(languages: Optional[str], externals: Sequence[str]) -> List[str]:
    """The built-ins --language names (all of them when neither --language nor --driver is
    given; none for "none")."""
    if languages is None:
        return [] if externals else list(LANGUAGES)
    return languages_from(languages)


def select_drivers(languages: Optional[str], externals: Sequence[str],
                   known_failing: Sequence[str] = (),
                   builtins: Optional[Dict[str, DriverSpec]] = None) -> List[DriverSpec]:
    """The drivers of a run: the built-ins --language names (chosen_languages; their specs
    from BUILTINS when given, e.g. built on the release packages, else DRIVERS), then each
    --driver, in order."""
    files = known_failing_files(known_failing)
    chosen = chosen_languages(languages, externals)
    builtins = {**DRIVERS, **(builtins or {})}
    specs = [dataclasses.replace(builtins[name], known_failing=files.get(name, builtins[name].known_failing))
             for name in chosen]
    for text in externals:
        spec = external_spec(text)
        spec = dataclasses.replace(spec, known_failing=files.get(spec.name))
        if spec.name in [s.name for s in specs]:
            raise SystemExit(f"--driver {spec.name}: the name is given twice")
        specs.append(spec)
    unused = sorted(set(files) - {s.name for s in specs})
    if unused:
        raise SystemExit(f"--known-failing names drivers that do not run: {unused}")
    if not specs:
        raise SystemExit("no driver selected: name built-in languages with --language or add --driver NAME=COMMAND")
    return specs


def known_failing(spec: DriverSpec) -> List[str]:
    """The spec's known-failing case-id globs (none without a file)."""
    if spec.known_failing is None or not spec.known_failing.exists():
        return []
    lines = spec.known_failing.read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


class DriverFailure(Exception):
    """The driver crashed, hung or broke the protocol."""


def build(spec: DriverSpec, log_path: pathlib.Path) -> None:
    if spec.build is None:
        return
    # Runs on one machine share the built drivers: one builds at a time (a build with nothing
    # to do leaves the files another run's driver is running from untouched).
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / f"driver-build-{spec.name}.lock", "w") as lock, open(log_path, "wb") as log:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(list(spec.build), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **spec.env}, timeout=900)
    if result.returncode != 0:
        errors = [line for line in log_path.read_text(errors="replace").splitlines() if line.startswith("error: ")]
        raise DriverFailure(f"building the {spec.name} driver failed (exit {result.returncode})"
                            + (f": {errors[-1][len('error: '):][:500]}" if errors else "") + f"; see {log_path}")


class DriverProcess:
    def __init__(self, spec: DriverSpec, extra_env: Dict[str, str], stderr_path: pathlib.Path,
                 warm_up: Optional[pb.DriverRequest] = None) -> None:
        self.spec = spec
        self._warm_up = warm_up   # sent after every (re)start's Hello; None: no warm-up call
        self._env = {**os.environ, **spec.env, **extra_env}
        if "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" not in extra_env:
            self._env.pop("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", None)
        self._stderr_path = stderr_path
        self._process: Optional[subprocess.Popen[Any]] = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.hello: Optional[pb.HelloAnswer] = None   # the running process's HelloAnswer

    def start(self) -> pb.HelloAnswer:
        """Starts the driver unless it runs, and returns its HelloAnswer."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        assert self.hello is not None
        return self.hello

    def _start(self) -> None:
        self._close_stderr()
        self._stderr: Optional[BinaryIO] = open(self._stderr_path, "ab")
        self.hello = None
        try:
            self._process = subprocess.Popen(list(self.spec.run), cwd=self.spec.cwd, env=self._env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                             text=True, bufsize=1)
        except OSError as error:
            self._close_stderr()
            raise DriverFailure(f"cannot start the {self.spec.name} driver {list(self.spec.run)} "
                                f"in {self.spec.cwd}: {error}") from None
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._process, self._lines), daemon=True).start()
        line = self._exchange(protocol.encode(protocol.hello()), HELLO_TIMEOUT_S, "the Hello")
        try:
            answer = protocol.decode(line, pb.HelloAnswer)
        except protocol.ProtocolError as error:
            self._kill()
            raise DriverFailure(f"the {self.spec.name} driver's first line is not a HelloAnswer: {error}") from None
        why = protocol.refusal(answer)
        if why:
            self._kill()
            raise DriverFailure(
                f"the {self.spec.name} driver is refused: {why}; its first line: {line.strip()[:200]!r}")
        self.hello = answer
        if self._warm_up is not None:
            try:
                self._call(self._warm_up, WARM_UP_TIMEOUT_S, "the warm-up call")
            except DriverFailure:
                self.hello = None
                raise

    @staticmethod
    def _read(process: subprocess.Popen[Any], lines: "queue.Queue[Optional[str]]") -> None:
        for line in cast(IO[str], process.stdout):
            lines.put(line)
        lines.put(None)

    def _exchange(self, text: str, timeout: float, what: str) -> str:
        """Writes one line, returns the driver's next line (DriverFailure if there is none)."""
        try:
            stdin = cast(IO[str], cast("subprocess.Popen[str]", self._process).stdin)
            stdin.write(text + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self._kill()
            raise DriverFailure(f"driver did not take {what}: {error}; stderr: {self.stderr_tail()}")
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            raise DriverFailure(f"driver did not answer {what} within {timeout:.0f} s (killed)") from None
        if line is None:
            code = cast("subprocess.Popen[str]", self._process).wait()
            self._process = None
            self._close_stderr()
            raise DriverFailure(f"driver exited with {code} before answering {what}; stderr: {self.stderr_tail()}")
        return line

    def request(self, message: pb.DriverRequest, timeout: float) -> pb.DriverAnswer:
        self.start()
        return self._call(message, timeout, "the request")

    def _call(self, message: pb.DriverRequest, timeout: float, what: str) -> pb.DriverAnswer:
        line = self._exchange(protocol.encode(message), timeout, what)
        try:
            answer = protocol.decode(line, pb.DriverAnswer)
        except protocol.ProtocolError as error:
            self._kill()
            raise DriverFailure(f"driver answered something that is not a DriverAnswer: {error}") from None
        if answer.id != message.id:
            self._kill()
            raise DriverFailure(f"driver answered id {answer.id!r} to {what} {message.id!r}")
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
                cast(IO[str], self._process.stdin).close()
                self._process.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self._kill()
        self._process = None
        self._close_stderr()


def languages_from(text: Optional[str]) -> List[str]:
    """Built-in driver names from a comma-separated list ("none": no built-in driver)."""
    if not text:
        return list(LANGUAGES)
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    if chosen == ["none"]:
        return []
    unknown = [c for c in chosen if c not in DRIVERS]
    if unknown:
        raise SystemExit(f"unknown language(s) {unknown}; choose from {LANGUAGES} (or none)")
    return chosen
