"""The conformance run: servers up, drivers built, every selected case for every selected
language, results judged and reported."""
from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime
import fnmatch
import pathlib
import platform
import secrets as token_source
import subprocess
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union, cast

from . import drivers, evaluate, protocol, report
from .cases import (NEEDS, REFERENCE_NEEDS, Case, Expectation, ServerProfile, inventory_changes, load_cases,
                    load_servers, needs_of,
                    select, substitute)
from .certs import TlsMaterial, make_tls_material
from .emulator import EmulatorContainer, EmulatorProcess, ServerConfig, build_image, docker_client
from .inputs import RunInputs
from .protocol import pb

# A reference server of the run.
_Server = Union[EmulatorContainer, EmulatorProcess]

LOG_WAIT_S = 3.0
SECRET_SCAN = "no-key-in-any-log"
# Where each driver process makes its warm-up call (drivers.py): always started, bar --target.
WARM_UP_SERVER = "plain"
WARM_UP_IMAGE = "gradient.jpg"


ACTIONS = {"images": pb.ACTION_IMAGES, "tensor": pb.ACTION_TENSOR, "request": pb.ACTION_REQUEST,
           "metadata": pb.ACTION_METADATA, "none": pb.ACTION_NONE}
AUTH_SCHEMES = {"raw": pb.AUTH_SCHEME_RAW, "bearer": pb.AUTH_SCHEME_BEARER}


@dataclasses.dataclass(frozen=True)
class Target:
    """A server that is already running (--target): no server is started, and the cases that
    need the reference server (cases.REFERENCE_NEEDS) or what this target was not said to
    have (cases.TARGET_NEEDS) are skipped."""
    host: str
    port: int
    tls: bool = False
    ca: Optional[pathlib.Path] = None          # the roots that trust it (None: the system roots)
    server_name: Optional[str] = None          # the TLS name to check its certificate against
    primary_key: Optional[str] = dataclasses.field(default=None, repr=False)
    secondary_key: Optional[str] = dataclasses.field(default=None, repr=False)
    reference_model: bool = False              # it serves the reference model: golden scores, metadata

    def has(self, need: str) -> bool:
        """Whether this target meets one of cases.NEEDS."""
        return {"plaintext": not self.tls, "tls": self.tls, "keys": bool(self.primary_key),
                "secondary-key": bool(self.secondary_key), "private-ca": self.ca is not None,
                "reference-model": self.reference_model}.get(need, False)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" + (" (TLS)" if self.tls else " (plaintext)")


@dataclasses.dataclass
class Options:
    server_mode: str = "container"       # container | process
    drivers: Sequence[drivers.DriverSpec] = tuple(drivers.DRIVERS.values())   # one matrix column each
    patterns: Sequence[str] = ()
    out_dir: pathlib.Path = pathlib.Path("out/conformance")
    build_drivers: bool = True
    jobs: int = 1                        # cases of one driver run at once (each on its own driver process)
    repeat: int = 1                      # every case this many times (flakiness: per-case pass rates)
    target: Optional[Target] = None      # a running server instead of the reference servers
    artifacts: Optional[str] = None      # --artifacts: which packages the built-in drivers are built on

    @property
    def languages(self) -> List[str]:
        """The drivers' names: the matrix's columns."""
        return [spec.name for spec in self.drivers]


def mark_known(result: report.CaseResult, known: Sequence[str]) -> None:
    """A result of a case its driver's known-failing list names: xfail when it failed, xpass
    (which fails the run: the list is stale) when it passed."""
    if result.status != "skip" and any(fnmatch.fnmatchcase(result.case_id, pattern) for pattern in known):
        result.status = "xfail" if result.status == "fail" else "xpass"


class Run:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.run_id = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + token_source.token_hex(2)
        # Absolute: drivers get file paths under it and need not run in the repository.
        self.directory = (options.out_dir / self.run_id).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.profiles: Dict[str, ServerProfile] = load_servers()
        self.cases: List[Case] = select(load_cases(servers=self.profiles), options.patterns)
        if not self.cases:
            raise SystemExit(f"no case matches {list(options.patterns)}")
        self.secrets = {name: f"{name}-{token_source.token_hex(12)}"
                        for name in ("primary", "secondary", "primary2", "wrong", "wrong2")}
        self.target = options.target
        if self.target:  # the target's own keys: scanned for like the run's, never printed
            for name, value in (("primary", self.target.primary_key), ("secondary", self.target.secondary_key)):
                if value:
                    self.secrets[name] = value
        self.servers: Dict[str, _Server] = {}
        self._exclusive = {name: threading.Lock() for name, p in self.profiles.items() if p.exclusive}
        self._log_lock = threading.Lock()
        self.server_views = {"echo": 0, "log": 0}  # how each judged step learnt what the server saw
        # Which of the run's keys each driver's answers held, scanned as they arrive (keeping the answers
        # would grow with --repeat).
        self.answer_leaks: Dict[str, Set[str]] = {}
        self.drivers_seen: Dict[str, str] = {}   # driver name -> what its HelloAnswer says
        self.progress = report.Progress(len(self.cases) * len(options.drivers) * max(1, options.repeat),
                                        lambda line: print(line, flush=True))

    # ----- set-up ---------------------------------------------------------------------------
    def _container_name(self, profile: str) -> str:
        return f"fpgascore-{self.run_id}-{profile}"

    def _server_config(self, profile: ServerProfile, tls: TlsMaterial) -> ServerConfig:
        pairs = {"server": tls.server, "self-signed": tls.self_signed, "expired": tls.expired,
                 "wrong-host": tls.wrong_host, "untrusted": tls.untrusted}
        pair = pairs[profile.tls] if profile.tls else None
        return ServerConfig(
            tls_cert=pair.cert if pair else None, tls_key=pair.key if pair else None,
            primary_key=self.secrets["primary"] if profile.keys else None,
            secondary_key=self.secrets["secondary"] if profile.keys else None,
            require_auth=profile.require_auth, conformance=True, service_time_ms=profile.service_time_ms,
            fpgas=profile.fpgas, queue_depth=profile.queue_depth, max_message_bytes=profile.max_message_bytes,
            extra_env={"FPGASCORE_MAX_CONNECTION_IDLE_SECONDS": str(profile.max_connection_idle_seconds)}
            if profile.max_connection_idle_seconds else {})

    def skip_reason(self, case: Case) -> Optional[str]:
        """Why a --target run does not run the case (None: it runs)."""
        if not self.target:
            return None
        unmet = [need for need in needs_of(case, self.profiles[case.server]) if not self.target.has(need)]
        reference = [REFERENCE_NEEDS[n] for n in unmet if n in REFERENCE_NEEDS]
        if reference:
            return "needs the reference server: " + "; ".join(reference)
        if unmet:
            return "needs " + "; ".join(NEEDS[n] for n in unmet)
        return None

    def _start_servers(self) -> None:
        if self.target:  # nothing to start; the TLS material is only for the roots that must fail
            self.tls = make_tls_material(self.directory / "tls")
            return
        needed = sorted({case.server for case in self.cases} | {WARM_UP_SERVER})
        self.tls = make_tls_material(self.directory / "tls", [self._container_name(p) for p in needed])
        client = None
        if self.options.server_mode == "container":
            client = docker_client()
            self.log("building the reference-server image")
            image = build_image(client)

        def start(name: str) -> Tuple[str, _Server]:
            config = self._server_config(self.profiles[name], self.tls)
            server: _Server
            if client is not None:
                server = EmulatorContainer(config, image=image, client=client, name=self._container_name(name))
            else:
                server = EmulatorProcess(config)
            server.start()
            return name, server

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(start, name) for name in needed]
            for future in futures:
                name, server = future.result()
                self.servers[name] = server
        self.log("servers up: " + ", ".join(f"{n}={s.target}" for n, s in sorted(self.servers.items())))

    def _build_drivers(self) -> Dict[str, str]:
        """Builds each driver that has a build step; returns the drivers whose build failed, with why."""
        if not self.options.build_drivers:
            return {}

        def build(spec: drivers.DriverSpec) -> Optional[str]:
            try:
                drivers.build(spec, self.directory / f"build-{spec.name}.log")
                return None
            except (drivers.DriverFailure, OSError, subprocess.SubprocessError) as error:
                self.log(f"{spec.name}: {error}")
                return str(error)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            outcomes = dict(zip(self.options.languages, pool.map(build, self.options.drivers)))
        return {name: error for name, error in outcomes.items() if error}

    def log(self, message: str) -> None:
        with self._log_lock:
            print(f"[conformance] {message}", flush=True)

    # ----- one case -------------------------------------------------------------------------
    def _roots_file(self, name: Optional[str]) -> Optional[str]:
        files: Dict[Optional[str], Union[str, pathlib.Path, None]] = {
            "ca": self.tls.ca, "self-signed": self.tls.self_signed.cert, "untrusted-ca": self.tls.untrusted_ca}
        if self.target:  # "ca" is what trusts the target
            files["ca"] = str(self.target.ca) if self.target.ca else None
        if name in (None, "", "system") or files[name] is None:
            return None
        return str(files[name])

    def _request(self, case: Case, prefix: str, inputs: RunInputs, session: Optional[str]) -> pb.DriverRequest:
        """The case's DriverRequest line (proto/fpgascore/conformance/v1/driver.proto)."""
        client = substitute(case.client, self.secrets)
        action = case.action
        host, port = ((self.target.host, self.target.port) if self.target
                      else ("127.0.0.1", self.servers[case.server].port))
        roots = client.get("roots", "system")
        default_name = (self.target.server_name if self.target and client.get("use_ssl") else None) or ""
        message = pb.DriverRequest(
            id=prefix, host=host, port=port,
            use_ssl=bool(client.get("use_ssl")),
            root_certificates_file=(None if roots.startswith("env:") else self._roots_file(roots)) or "",
            server_name_override=client.get("server_name_override") or default_name,
            auth_scheme=AUTH_SCHEMES[client.get("auth_scheme", "raw")],
            allow_insecure_key=bool(client.get("allow_insecure_key", False)),
            timeout_ms=client.get("timeout_ms", 10000),
            metadata={**client.get("metadata", {}), "x-conformance-case": prefix},
            action=ACTIONS[action.get("kind", "none")],
            images=[inputs.image(n) for n in action.get("images", [])],
            calls=action.get("calls", 1), concurrency=action.get("concurrency", 1),
            top_k=5, session=session or "", cancel_after_ms=action.get("cancel_after_ms", 0))
        for field in ("access_token", "secondary_access_token", "model_name", "signature_name"):
            if client.get(field) is not None:  # absent and empty differ: an empty key is a key
                setattr(message, field, client[field])
        if client.get("retry"):
            message.retry.CopyFrom(pb.RetryPolicy(**client["retry"]))
        if "from_images" in action:
            message.tensor_file, shape = inputs.tensor_from_images(action["from_images"])
            message.tensor_shape.extend(shape)
        if "zeros_shape" in action:
            message.tensor_file, shape = inputs.zeros(action["zeros_shape"])
            message.tensor_shape.extend(shape)
        if "request" in action:
            message.request_file = inputs.request(action["request"])
        return message

    def _driver_process(self, spec: drivers.DriverSpec, env: Dict[str, str], name: str,
                        inputs: RunInputs) -> drivers.DriverProcess:
        """A driver process of the run (not started), its stderr kept as driver-LANGUAGE-NAME.stderr."""
        stderr = self.directory / f"driver-{spec.name}-{name}.stderr"
        return drivers.DriverProcess(spec, env, stderr, self._warm_up(spec.name, name, inputs))

    def _warm_up(self, language: str, process_name: str, inputs: RunInputs) -> Optional[pb.DriverRequest]:
        """A driver process's warm-up call (drivers.py); None against a --target, whose
        transport and keys the runner cannot assume."""
        if self.target:
            return None
        key = f"{self.run_id}:{language}:warm-up:{process_name}"
        return pb.DriverRequest(id=key, host="127.0.0.1", port=self.servers[WARM_UP_SERVER].port,
                                timeout_ms=30000, metadata={"x-conformance-case": key},
                                action=pb.ACTION_IMAGES, images=[inputs.image(WARM_UP_IMAGE)], calls=1,
                                concurrency=1, top_k=5)

    def _server_view(self, server: _Server, prefix: str, expect: Expectation,
                     answer: pb.DriverAnswer) -> List[Dict[str, Any]]:
        """What the server saw of the step's calls: from its echo in the answer's trailers
        when every call carries one (then the log is read only for what the echo lacks, and
        the number of its lines is known: no wait), else from its log."""
        echoed = evaluate.echoed_calls(answer)
        with self._log_lock:
            self.server_views["log" if echoed is None else "echo"] += 1
        if echoed is None:
            return self._calls_seen(server, prefix, evaluate.expected_attempts(expect))
        if not evaluate.needs_log(expect, answer):
            return echoed
        return self._calls_seen(server, prefix, len(echoed))

    def _calls_seen(self, server: _Server, prefix: str, wanted: Optional[int]) -> List[Dict[str, Any]]:
        """The server's log records of the case. Waits up to LOG_WAIT_S for ``wanted`` of
        them; when none or an unknown number are expected, gives stray lines 0.3 s to appear."""
        deadline = time.monotonic() + (LOG_WAIT_S if wanted else 0.3)
        while True:
            calls = evaluate.server_calls(server.logs(), prefix)
            if (wanted and len(calls) >= wanted) or time.monotonic() >= deadline:
                return calls
            time.sleep(0.1)

    def _run_case(self, case: Case, language: str, driver_for: Callable[[Optional[str]], drivers.DriverProcess],
                  inputs: RunInputs,
                  repetition: int = 0) -> report.CaseResult:
        base = f"{self.run_id}:{language}:{case.id}" + (f":r{repetition}" if repetition else "")
        skipped = self.skip_reason(case)
        if skipped:
            return report.CaseResult(language, case.id, case.template, "skip", [skipped], 0.0, repetition)
        server = self.servers.get(case.server)   # None against a --target
        problems: List[str] = []
        driver_ms = 0.0
        started = time.monotonic()
        multi_step = len(case.steps) > 1
        driver = driver_for(case.uses_env_roots)
        for index, step in enumerate(case.steps):
            if step.rotate:
                rotated = substitute(step.rotate, self.secrets)
                cast(_Server, server).rotate_keys(rotated.get("primary"), rotated.get("secondary"))
                continue
            if step.restart or step.idle_ms:  # the case's own time, not the runner's overhead
                paused = time.monotonic()
                if step.restart:
                    assert server is not None, "a restart step needs the reference server (needs: server-restart)"
                    server.bounce()
                else:
                    time.sleep(step.idle_ms / 1000)
                driver_ms += (time.monotonic() - paused) * 1000
                continue
            prefix = f"{base}~{index}" if multi_step else base
            message = self._request(case, prefix, inputs, session=base if multi_step else None)
            call_started = time.monotonic()
            try:
                answer = driver.request(message, timeout=case.timeout_s)
            except drivers.DriverFailure as failure:
                problems.append(str(failure))
                break
            elapsed_ms = (time.monotonic() - call_started) * 1000
            driver_ms += elapsed_ms
            answer_text = protocol.encode(answer)
            leaked = {secret for secret, value in self.secrets.items() if value in answer_text}
            with self._log_lock:
                self.answer_leaks.setdefault(language, set()).update(leaked)
            expect = substitute(step.expect, self.secrets)
            if server is None:  # a target's log cannot be read: judged on the client's answer alone
                step_problems = evaluate.judge(expect, answer, [], elapsed_ms, server_log=False,
                                               golden_scores=cast(Target, self.target).reference_model)
            else:
                calls = self._server_view(server, prefix, expect, answer)
                step_problems = evaluate.judge(expect, answer, calls, elapsed_ms)
            problems += [f"step {index}: {p}" if multi_step else p for p in step_problems]
        if multi_step and any(s.rotate for s in case.steps):
            cast(_Server, server).rotate_keys(self.secrets["primary"], self.secrets["secondary"])
        if problems and server is not None:
            self._keep_server_log(language, case, server, base)
        return report.CaseResult(language, case.id, case.template, "fail" if problems else "pass", problems,
                                 (time.monotonic() - started) * 1000, repetition, driver_ms)

    def _keep_server_log(self, language: str, case: Case, server: _Server, base: str) -> None:
        folder = self.directory / "failed" / language
        folder.mkdir(parents=True, exist_ok=True)
        logs = server.logs()
        mine = [line for line in logs.splitlines() if base in line]
        (folder / f"{case.id}.log").write_text(
            "# server log lines of this case\n" + "\n".join(mine) +
            "\n\n# server log, last 200 lines\n" + "\n".join(logs.splitlines()[-200:]) + "\n")

    # ----- one language ---------------------------------------------------------------------
    def _run_language(self, spec: drivers.DriverSpec, inputs: RunInputs,
                      build_error: Optional[str]) -> List[report.CaseResult]:
        language = spec.name
        pool: Dict[Optional[str], drivers.DriverProcess] = {}
        if not build_error:
            # The handshake once up front: a driver that does not start or speaks another
            # protocol fails every case with that one reason, at once.
            first = pool[None] = self._driver_process(spec, {}, "default", inputs)
            try:
                hello = first.start()
                self.drivers_seen[language] = protocol.describe(hello)
                self.log(f"{language}: {self.drivers_seen[language]}")
                if spec.client_version is not None and hello.client_version != spec.client_version:
                    first.close()
                    raise drivers.DriverFailure(
                        f"the {language} driver says client version {hello.client_version!r}, the package "
                        f"it was built on is {spec.client_version}")
            except drivers.DriverFailure as failure:
                build_error = str(failure)
                self.log(f"{language}: {failure}")
        if build_error:
            return [report.CaseResult(language, case.id, case.template, "fail", [build_error], 0.0)
                    for case in self.cases]

        known = drivers.known_failing(spec)
        work = [(repetition, case) for repetition in range(max(1, self.options.repeat)) for case in self.cases]
        lanes = max(1, min(self.options.jobs, len(work)))

        def run_lane(lane: int) -> List[Tuple[int, report.CaseResult]]:
            """Cases lane, lane + lanes, ... on the lane's own driver processes."""
            mine: Dict[Optional[str], drivers.DriverProcess] = pool if lane == 0 else {}
            suffix = f"-{lane}" if lane else ""

            def driver_for(env_roots: Optional[str]) -> drivers.DriverProcess:
                if env_roots not in mine:
                    roots_file = self._roots_file(env_roots) if env_roots else None
                    env = {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": roots_file} if roots_file else {}
                    mine[env_roots] = self._driver_process(spec, env, f"{env_roots or 'default'}{suffix}", inputs)
                return mine[env_roots]

            done: List[Tuple[int, report.CaseResult]] = []
            pending = collections.deque(range(lane, len(work), lanes))
            passed_over = 0  # cases in a row put back because another lane held their server
            try:
                while pending:
                    index = pending.popleft()
                    repetition, case = work[index]
                    lock = self._exclusive.get(case.server)
                    # A case whose exclusive server another lane is using waits at the back of
                    # this lane's queue, while the lane runs what it can; only when every case
                    # left waits does the lane block.
                    if lock and not lock.acquire(blocking=passed_over >= len(pending)):
                        pending.append(index)
                        passed_over += 1
                        continue
                    passed_over = 0
                    try:
                        result = self._run_case(case, language, driver_for, inputs, repetition)
                    finally:
                        if lock:
                            lock.release()
                    mark_known(result, known)
                    done.append((index, result))
                    self.progress.finished(result)
            finally:
                for driver in mine.values():
                    driver.close()
            return done

        with concurrent.futures.ThreadPoolExecutor(lanes) as lane_pool:
            done = [item for lane in lane_pool.map(run_lane, range(lanes)) for item in lane]
        return [result for _, result in sorted(done, key=lambda item: item[0])]

    def _secret_scan(self, results: List[report.CaseResult]) -> List[report.CaseResult]:
        """One extra result per language: no key of the run in its driver's output, its
        results, or any server log."""
        server_logs = "\n".join(server.logs() for server in self.servers.values())
        scanned = []
        for language in self.options.languages:
            texts = {"server logs": server_logs,
                     "driver stderr": "\n".join(p.read_text(errors="replace")
                                                for p in self.directory.glob(f"driver-{language}-*.stderr"))}
            leaks = [f"{name} contains the {secret} key" for name, text in texts.items()
                     for secret, value in self.secrets.items() if value in text]
            leaks += [f"client results contain the {secret} key"
                      for secret in sorted(self.answer_leaks.get(language, ()))]
            result = report.CaseResult(language, SECRET_SCAN, SECRET_SCAN, "fail" if leaks else "pass", leaks, 0.0)
            spec = next((s for s in self.options.drivers if s.name == language), None)
            mark_known(result, drivers.known_failing(spec) if spec else [])
            scanned.append(result)
        return scanned

    # ----- all ------------------------------------------------------------------------------
    def execute(self) -> int:
        started = time.monotonic()
        self.log(f"run {self.run_id}: {len(self.cases)} cases ({len({c.template for c in self.cases})} templates) "
                 f"x {list(self.options.languages)}, "
                 + (f"target {self.target}, {sum(self.skip_reason(c) is None for c in self.cases)} of them runnable"
                    if self.target else f"server={self.options.server_mode}") + f", output {self.directory}")
        if self.options.artifacts:
            self.log(f"testing the built packages, not the tree: {self.options.artifacts}")
        inputs = RunInputs(self.directory / "inputs")
        results: List[report.CaseResult] = []
        matrix_started = started
        try:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                built = pool.submit(self._build_drivers)
                servers = pool.submit(self._start_servers)
                servers.result()
                build_errors = built.result()
            matrix_started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(len(self.options.languages)) as pool:
                for language_results in pool.map(
                        lambda spec: self._run_language(spec, inputs, build_errors.get(spec.name)),
                        self.options.drivers):
                    results.extend(language_results)
        finally:
            for name, server in self.servers.items():
                code = server.stop()
                (self.directory / f"server-{name}.log").write_text(server.logs())
                if code not in (0, None):
                    self.log(f"server {name} exited with {code}")
        matrix_s = time.monotonic() - matrix_started
        results += self._secret_scan(results)
        wall = time.monotonic() - started
        against = f"against the target {self.target}" if self.target else f"server as {self.options.server_mode}"
        header = (f"## Conformance matrix — run {self.run_id}\n\n{len(self.cases)} cases from "
                  f"{len({c.template for c in self.cases})} templates × {len(self.options.languages)} languages, "
                  f"{against}, {wall:.0f} s on {platform.node()} "
                  f"({platform.machine()}, {platform.python_version()}).")
        if self.options.artifacts:
            header += f"\n\nPackages tested (--artifacts), not the tree: {self.options.artifacts}."
        if self.drivers_seen:
            header += "\n\nDrivers: " + "; ".join(
                f"{name} = {self.drivers_seen[name]}"
                for name in self.options.languages if name in self.drivers_seen) + "."
        report.write_all(self.directory, self.cases, self.options.languages, results, header)
        passed = sum(r.status == "pass" for r in results)
        failed = sum(not r.ok for r in results)
        known = sum(r.status == "xfail" for r in results)
        skipped = sum(r.status == "skip" for r in results)
        print(report.summary(self.options.languages, results, matrix_s))
        if any(self.server_views.values()):
            print(f"server view: {self.server_views['echo']} steps judged from the server's echo in the trailers, "
                  f"{self.server_views['log']} from its log (no echo: the call never reached it, or the client "
                  f"does not report trailers)")
        print(f"run: {wall:.1f} s in all ({matrix_started - started:.1f} s to start servers and build drivers)")
        print(f"reports: {self.directory}/matrix.md, junit.xml, results.json")
        if self.options.artifacts:
            print(f"packages tested: {self.options.artifacts}")
        if not self.options.patterns:
            removed, added = inventory_changes(self.cases)
            if removed or added:
                print(f"case inventory (conformance/cases/INVENTORY.txt) differs: gone {removed}, new {added} "
                      f"(a renamed case is both); if that is meant: scripts/conformance.sh --write-inventory")
                failed += 1
        print(f"conformance: {passed} passed, {failed} failed" + (f", {known} known failing" if known else "")
              + (f", {skipped} skipped" if skipped else "")
              + (" (on the built packages)" if self.options.artifacts else ""))
        return 1 if failed else 0
