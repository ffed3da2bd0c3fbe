"""The server image, built and run through the `docker` package (Docker, or podman's API)."""
import hashlib
import json

import grpc
import pytest

from fpgascore_conformance.emulator import EmulatorContainer, ServerConfig

from . import rpc

pytestmark = pytest.mark.container
GOLDEN = json.loads((rpc.ROOT / "conformance" / "testdata" / "golden.json").read_text())
REQUEST = rpc.image_request([rpc.image("gradient.jpg")])


def test_container_serves_golden_scores_as_a_non_root_user(image):
    with EmulatorContainer(ServerConfig(), image=image) as server:
        response, trailing = rpc.plaintext(server.target).predict(REQUEST)
        scores = rpc.decode(response.outputs["output_alias"])[0]
        assert hashlib.sha256(scores.astype("<f4").tobytes()).hexdigest() == GOLDEN["gradient.jpg"]["sha256"]
        assert trailing["request-id"]
        assert server._container.exec_run(["id", "-u"]).output.strip() == b"10001"


def test_container_tls_auth_rotation_health_and_graceful_stop(image, tls):
    config = ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key,
                          primary_key="c-primary", secondary_key="c-secondary")
    server = EmulatorContainer(config, image=image)
    server.start()
    try:
        caller = rpc.secure(server.target, tls.ca)
        caller.predict(REQUEST, [("authorization", "Bearer c-primary")])
        assert caller.error(REQUEST).code() == grpc.StatusCode.UNAUTHENTICATED
        server.rotate_keys("c-primary-2", "c-secondary")
        assert caller.error(REQUEST, [("authorization", "c-primary")]).code() == grpc.StatusCode.UNAUTHENTICATED
        caller.predict(REQUEST, [("authorization", "c-secondary")])
        caller.predict(REQUEST, [("authorization", "c-primary-2")])
        assert server.health() == "SERVING"
    finally:
        code = server.stop()
    assert code == 0
    logs = server.logs()
    assert '"event":"stopped"' in logs
    assert "c-primary" not in logs and "c-secondary" not in logs


def test_container_backpressure(image):
    import concurrent.futures
    with EmulatorContainer(ServerConfig(service_time_ms=300, queue_depth=1), image=image) as server:
        caller = rpc.plaintext(server.target)

        def call():
            try:
                caller.predict(REQUEST)
                return "OK"
            except grpc.RpcError as error:
                return error.code().name
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda _: call(), range(6)))
        assert "RESOURCE_EXHAUSTED" in codes and "OK" in codes, codes
        assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}
