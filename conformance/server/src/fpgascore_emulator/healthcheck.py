"""Container health check: asks the local health port (plaintext, loopback only, serving
nothing but grpc.health.v1) whether the server is SERVING. Exit 0 when it is, else 1.

    python3 -m fpgascore_emulator.healthcheck [port]   (default: $FPGASCORE_HEALTH_PORT)
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import grpc

from fpgascore.v1 import health_pb2, health_service_pb2_grpc


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    port = argv[0] if argv else os.environ.get("FPGASCORE_HEALTH_PORT", "")
    if not port or port == "0":
        print("no health port configured (FPGASCORE_HEALTH_PORT)", file=sys.stderr)
        return 1
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_service_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
        except grpc.RpcError as error:
            print(f"health check failed: {error.code().name}", file=sys.stderr)
            return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
