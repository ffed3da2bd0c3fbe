"""The load balancer in front of a service's replicas: nginx (Debian's ``nginx`` with
``libnginx-mod-stream``) as a TCP (layer 4) proxy on the service's one address.

It balances **per connection**, as a cloud L4 load balancer does: each new TCP connection
goes to the next replica (round robin), and every call on that connection (a gRPC channel
keeps one HTTP/2 connection for as long as it lives) reaches the same replica. TLS passes
through untouched: each replica terminates it with the service's certificate and checks the
keys itself, so a key rotation or a new certificate is each replica's reload and nginx never
holds a secret. One long-lived client channel therefore uses one replica; spreading load
takes many channels (or clients that reconnect, as the seed's Python client did every two
minutes). A replica that refuses connections is skipped for the next ``FAIL_TIMEOUT`` s.

The configuration file is written by the manager (``balancer/nginx.conf`` in the service's
directory); nginx runs in the foreground with its errors on stderr (the balancer's log).
"""
from __future__ import annotations

import ipaddress
import pathlib
from typing import List, Tuple

from .runtime import write_private

STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
NGINX = "/usr/sbin/nginx"
CONFIG_NAME = "nginx.conf"
# A connection idle this long (no byte either way) is closed: far above gRPC's keepalive pings.
IDLE_TIMEOUT = "1h"
CONNECT_TIMEOUT = "2s"
FAIL_TIMEOUT = "5s"
MAX_CONNECTIONS = 4096


def _listen_address(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def config(host: str, port: int, backends: List[Tuple[str, int]], pid_file: str) -> str:
    """nginx.conf for a balancer on ``host:port`` over ``backends`` (at least one)."""
    if not backends:
        raise ValueError("a balancer needs at least one backend")
    servers = "\n".join(f"        server {_listen_address(h, p)} max_fails=1 fail_timeout={FAIL_TIMEOUT};"
                        for h, p in backends)
    return f"""# Written by the fpgascore manager: the service's replicas behind one address (balancer.py).
load_module {STREAM_MODULE};
daemon off;
worker_processes 1;
pid {pid_file};
error_log stderr warn;
events {{
    worker_connections {MAX_CONNECTIONS};
}}
stream {{
    upstream replicas {{
{servers}
    }}
    server {{
        listen {_listen_address(host, port)};
        proxy_pass replicas;
        proxy_connect_timeout {CONNECT_TIMEOUT};
        proxy_timeout {IDLE_TIMEOUT};
        proxy_next_upstream on;
    }}
}}
"""


def write_config(directory: pathlib.Path, host: str, port: int, backends: List[Tuple[str, int]],
                 pid_file: str) -> pathlib.Path:
    """Writes ``directory/nginx.conf`` (0600 under a 0700 directory); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / CONFIG_NAME
    write_private(path, config(host, port, backends, pid_file).encode("ascii"))
    return path


def command(config_path: str, prefix: str) -> List[str]:
    return [NGINX, "-p", prefix, "-c", config_path, "-e", "stderr"]
