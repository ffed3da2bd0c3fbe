"""health(): the server's grpc.health.v1 status through the client's own channel (TLS, key,
timeout), one attempt, errors typed as for any call."""
from __future__ import annotations

import asyncio
import socket
from concurrent import futures

import grpc
import pytest

import fpgascore
from fpgascore.v1 import health_pb2, health_service_pb2_grpc


@pytest.mark.emulator
def test_the_reference_server_is_serving_over_tls_and_plaintext(tls_server, plain_server, pki, keys):
    with fpgascore.PredictionClient("localhost", tls_server.port, use_ssl=True, access_token=keys["primary"],
                                    root_certificates=str(pki.ca)) as client:
        assert client.health() == "SERVING"
        assert client.health("tensorflow.serving.PredictionService", timeout=5) == "SERVING"
        with pytest.raises(fpgascore.NotFoundError, match="unknown service"):
            client.health("no.such.Service")
    with fpgascore.PredictionClient(plain_server.host, plain_server.port) as client:
        assert client.health() == "SERVING"

    async def check() -> str:
        async with fpgascore.AsyncPredictionClient(plain_server.host, plain_server.port) as client:
            return await client.health()

    assert asyncio.run(check()) == "SERVING"


class Draining(health_service_pb2_grpc.HealthServicer):
    """A health service written here, not the reference server's: it answers NOT_SERVING."""

    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)


def test_another_servers_not_serving_and_a_dead_port():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_service_pb2_grpc.add_HealthServicer_to_server(Draining(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with fpgascore.PredictionClient("127.0.0.1", port) as client:
            assert client.health() == "NOT_SERVING"
    finally:
        server.stop(0)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with fpgascore.PredictionClient("127.0.0.1", dead, timeout=2) as client:
        with pytest.raises(fpgascore.UnavailableError):
            client.health()
