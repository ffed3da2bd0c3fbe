"""``python -m fpgascore_emulator manage`` (``scripts/run-emulator manage``): the local control
plane of scoring services (``manage --help``).

    scripts/run-emulator manage --state-dir ~/.fpgascore --admin-token-file admin.token
    scripts/run-emulator manage --runtime container --image localhost/fpgascore-emulator:dev ...
    scripts/run-emulator manage --detach ...    # returns once serving; pid in <state-dir>/manager.pid
    scripts/run-emulator manage --dashboard-port 8080 ...   # http://127.0.0.1:8080/#token=<admin token>

The admin token comes from --admin-token-file or FPGASCORE_ADMIN_TOKEN (never from a flag
value: the process list is public). The manager binds 127.0.0.1 unless told otherwise, with
TLS when --tls-cert/--tls-key are given. SIGTERM/SIGINT stop the manager; its services keep
running, and a manager started again on the same state directory adopts them.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping, Optional, Sequence

import grpc

from ..logs import log
from ..security import TlsError, check_tls_pair
from .manager import Manager
from .runtime import Runtime, RuntimeFailure
from .service import AdminTokenInterceptor, add_to_server
from .store import Store

TOKEN_ENV = "FPGASCORE_ADMIN_TOKEN"
MIN_TOKEN_CHARS = 16
DEFAULT_PORT = 50055


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fpgascore-emulator manage",
                                     description="Run the control plane of local scoring services.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)")
    parser.add_argument("--port-file", help="write the bound port there once serving")
    parser.add_argument("--state-dir", default=os.environ.get("FPGASCORE_STATE_DIR",
                                                              str(pathlib.Path.home() / ".fpgascore" / "manager")),
                        help="the database and the services' files "
                             "(env FPGASCORE_STATE_DIR; default ~/.fpgascore/manager)")
    parser.add_argument("--runtime", choices=("process", "container"), default="process",
                        help="run services as local processes (default) or as containers")
    parser.add_argument("--image", default=None, help="the reference-server image (container runtime; default "
                                                      "localhost/fpgascore-emulator:dev)")
    parser.add_argument("--balancer-image", default=None,
                        help="the load balancer's image, for services of several replicas (container runtime; "
                             "default localhost/fpgascore-balancer:dev, built from conformance/server/"
                             "Balancer.Containerfile)")
    parser.add_argument("--admin-token-file", help=f"file holding the admin token (else env {TOKEN_ENV})")
    parser.add_argument("--tls-cert", help="PEM certificate chain of the manager's own port")
    parser.add_argument("--tls-key", help="its PEM private key")
    parser.add_argument("--service-host", default="127.0.0.1",
                        help="the address services listen on and are reached at (default 127.0.0.1)")
    parser.add_argument("--monitor-interval", type=float, default=2.0,
                        help="seconds between checks that every service still runs (default 2)")
    parser.add_argument("--dashboard-port", type=int, default=None,
                        help="serve the dashboard (HTTP) on this port (0: any); off unless given")
    parser.add_argument("--dashboard-host", default="127.0.0.1",
                        help="the dashboard's address (default 127.0.0.1; its data needs the admin token)")
    parser.add_argument("--dashboard-port-file", help="write the dashboard's port there once serving")
    parser.add_argument("--dashboard-interval", type=float, default=5.0,
                        help="seconds between the dashboard's readings of the services' metrics (default 5)")
    parser.add_argument("--detach", action="store_true",
                        help="run in the background: return once it serves, with its pid in <state-dir>/manager.pid "
                             "and its log in <state-dir>/manager.log")
    return parser


def read_token(path: Optional[str], environ: Mapping[str, str] = os.environ) -> str:
    if path:
        try:
            token = pathlib.Path(path).read_text().strip()
        except OSError as error:
            raise SystemExit(f"--admin-token-file: {error.strerror}: {path}") from None
    else:
        token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise SystemExit(f"the manager needs an admin token: --admin-token-file FILE or {TOKEN_ENV}")
    if len(token) < MIN_TOKEN_CHARS or not all("!" <= char <= "~" for char in token):
        raise SystemExit(f"the admin token must be at least {MIN_TOKEN_CHARS} printable ASCII characters without "
                         f"spaces (e.g. `head -c 24 /dev/urandom | base64`)")
    return token


def write_port_file(path: str, port: int) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(f"{port}\n")
    os.replace(temporary, path)


def make_runtime(args: argparse.Namespace, store: Store) -> Runtime:
    if args.runtime == "container":
        from .container import BALANCER_IMAGE, IMAGE, ContainerRuntime
        return ContainerRuntime(store.manager_id, image=args.image or IMAGE,
                                balancer_image=args.balancer_image or BALANCER_IMAGE)
    from .process import ProcessRuntime
    return ProcessRuntime(store.state_dir)


def detach(args: argparse.Namespace, argv: Sequence[str], timeout: float = 60.0) -> int:
    """Starts this command again without --detach in its own session; returns once it serves."""
    state_dir = pathlib.Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    port_file = pathlib.Path(args.port_file or state_dir / "manager.port")
    port_file.unlink(missing_ok=True)
    log_path = state_dir / "manager.log"
    command = [sys.executable, "-m", "fpgascore_emulator", "manage", *(a for a in argv if a != "--detach")]
    if not args.port_file:
        command += ["--port-file", str(port_file)]
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=descriptor, stderr=descriptor,
                                 start_new_session=True)
    finally:
        os.close(descriptor)
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            if child.poll() is None:
                child.terminate()
            tail = log_path.read_text(errors="replace").splitlines()[-5:]
            print("the manager did not start:\n" + "\n".join(tail), file=sys.stderr)
            return 1
        time.sleep(0.05)
    (state_dir / "manager.pid").write_text(f"{child.pid}\n")
    port = port_file.read_text().strip()
    print(f"manager listening on {args.host}:{port} (pid {child.pid}; log {log_path}; "
          f"stop it with: kill $(cat {state_dir / 'manager.pid'}))")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    token = read_token(args.admin_token_file)
    if args.detach:
        return detach(args, argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    credentials = None
    if args.tls_cert:
        try:
            chain, key = pathlib.Path(args.tls_cert).read_bytes(), pathlib.Path(args.tls_key).read_bytes()
            check_tls_pair(chain, key)
        except OSError as error:
            raise SystemExit(f"cannot read {error.filename}: {error.strerror}") from None
        except TlsError as error:
            raise SystemExit(f"--tls-cert / --tls-key: {error}") from None
        credentials = grpc.ssl_server_credentials([(key, chain)])
    store = Store(pathlib.Path(args.state_dir))
    try:
        runtime = make_runtime(args, store)
    except RuntimeFailure as error:
        raise SystemExit(f"--runtime {args.runtime}: {error}") from None
    manager = Manager(store, runtime, service_host=args.service_host, monitor_interval=args.monitor_interval)
    manager.start()  # reconciles first: the API answers from a consistent state
    server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="manage"),
                         interceptors=[AdminTokenInterceptor(token)],
                         options=[("grpc.max_receive_message_length", 4 * 1024 * 1024), ("grpc.so_reuseport", 0)])
    add_to_server(manager, server)
    address = f"{args.host}:{args.port}"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if not port:
        manager.close()
        raise SystemExit(f"cannot listen on {address}")
    server.start()
    dashboard = None
    if args.dashboard_port is not None:
        from .dashboard import Dashboard
        try:
            dashboard = Dashboard(manager, token, args.dashboard_host, args.dashboard_port,
                                  interval=max(0.2, args.dashboard_interval))
        except OSError as error:
            server.stop(0)
            manager.close()
            raise SystemExit(f"--dashboard-port: cannot listen on {args.dashboard_host}:{args.dashboard_port}: "
                             f"{error.strerror}") from None
        dashboard_port = dashboard.start()
        if args.dashboard_port_file:
            write_port_file(args.dashboard_port_file, dashboard_port)
    log("manager.listening", host=args.host, port=port, tls=bool(credentials), runtime=runtime.name,
        state_dir=str(store.state_dir), manager_id=store.manager_id)
    if args.port_file:
        write_port_file(args.port_file, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    log("manager.stopping")
    if dashboard is not None:
        dashboard.close()
    server.stop(5).wait()
    manager.close()
    store.close()
    log("manager.stopped", services="left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
