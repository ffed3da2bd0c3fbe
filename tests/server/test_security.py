"""TLS and the service's authorization rule on a real server process."""
import grpc
import pytest

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

PRIMARY, SECONDARY = "primary-key-7f3a91", "secondary-key-c2e804"
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture(scope="module")
def tls_server(tls):
    config = ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key,
                          primary_key=PRIMARY, secondary_key=SECONDARY)
    with EmulatorProcess(config) as server:
        yield server


@pytest.fixture(scope="module")
def tls_caller(tls_server, tls):
    return rpc.secure(tls_server.target, tls.ca)


REQUEST = rpc.image_request([rpc.image("tiny-noise.png")])


@pytest.mark.parametrize("header", [PRIMARY, SECONDARY, f"Bearer {PRIMARY}", f"bearer {SECONDARY}",
                                    f"BEARER {PRIMARY}", f"  {PRIMARY}  "])
def test_either_key_raw_or_bearer_is_accepted(tls_caller, header):
    response, trailing = tls_caller.predict(REQUEST, [("authorization", header)])
    assert "output_alias" in response.outputs and trailing["request-id"]


@pytest.mark.parametrize("metadata", [[], [("authorization", "wrong-key-123")], [("authorization", "Bearer ")],
                                      [("authorization", f"Basic {PRIMARY}")], [("authorization", PRIMARY[:-1])],
                                      [("authorization", f"{PRIMARY} {SECONDARY}")]])
def test_anything_else_is_unauthenticated_without_echoing_it(tls_caller, metadata):
    error = tls_caller.error(REQUEST, metadata)
    assert error.code() == UNAUTHENTICATED
    assert rpc.trailing(error)["request-id"]
    for secret in ("wrong-key-123", PRIMARY, SECONDARY, "Basic"):
        assert secret not in error.details()


def test_keys_never_reach_the_log(tls_server, tls_caller):
    tls_caller.error(REQUEST, [("authorization", "wrong-key-123")])
    tls_caller.predict(REQUEST, [("authorization", PRIMARY)])
    logs = tls_server.logs()
    assert "predict" in logs
    for secret in ("wrong-key-123", PRIMARY, SECONDARY):
        assert secret not in logs


def test_a_client_that_does_not_trust_the_certificate_gets_unavailable(tls_server, tls):
    error = rpc.secure(tls_server.target, tls.untrusted_ca).error(REQUEST, [("authorization", PRIMARY)])
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_to_a_tls_port_is_unavailable(tls_server):
    error = rpc.plaintext(tls_server.target).error(REQUEST, [("authorization", PRIMARY)], timeout=5)
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_health_needs_no_key(tls_server, tls):
    from fpgascore.v1 import health_pb2, health_service_pb2_grpc
    channel = grpc.secure_channel(tls_server.target, grpc.ssl_channel_credentials(tls.ca.read_bytes()))
    reply = health_service_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_plaintext_has_no_auth_unless_required():
    with EmulatorProcess(ServerConfig()) as open_server:
        response, _ = rpc.plaintext(open_server.target).predict(REQUEST)
        assert "output_alias" in response.outputs
    with EmulatorProcess(ServerConfig(require_auth=True, primary_key=PRIMARY)) as locked:
        caller = rpc.plaintext(locked.target)
        assert caller.error(REQUEST).code() == UNAUTHENTICATED
        caller.predict(REQUEST, [("authorization", PRIMARY)])


def test_auth_without_any_key_refuses_to_start(tls):
    with pytest.raises(RuntimeError, match="no key is configured"):
        EmulatorProcess(ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key)).start()


def test_key_rotation_keeps_the_other_key_working(tls):
    config = ServerConfig(tls_cert=tls.server.cert, tls_key=tls.server.key, primary_key="old-primary",
                          secondary_key="stable-secondary")
    with EmulatorProcess(config) as server:
        caller = rpc.secure(server.target, tls.ca)
        caller.predict(REQUEST, [("authorization", "old-primary")])
        server.rotate_keys("new-primary", "stable-secondary")
        assert caller.error(REQUEST, [("authorization", "old-primary")]).code() == UNAUTHENTICATED
        caller.predict(REQUEST, [("authorization", "new-primary")])
        caller.predict(REQUEST, [("authorization", "stable-secondary")])


def test_certificate_rotation_applies_to_new_connections(tls, tmp_path):
    import shutil
    cert, key = tmp_path / "live.pem", tmp_path / "live-key.pem"
    shutil.copy(tls.server.cert, cert)
    shutil.copy(tls.server.key, key)
    config = ServerConfig(tls_cert=cert, tls_key=key, primary_key=PRIMARY)
    with EmulatorProcess(config) as server:
        rpc.secure(server.target, tls.ca).predict(REQUEST, [("authorization", PRIMARY)])
        shutil.copy(tls.self_signed.cert, cert)
        shutil.copy(tls.self_signed.key, key)
        server.reload()
        rpc.secure(server.target, tls.self_signed.cert).predict(REQUEST, [("authorization", PRIMARY)])
        error = rpc.secure(server.target, tls.ca).error(REQUEST, [("authorization", PRIMARY)])
        assert error.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("version, accepted", [("TLSv1", False), ("TLSv1_1", False), ("TLSv1_2", True),
                                               ("TLSv1_3", True)])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_2_is_the_floor(tls_server, tls, version, accepted):
    import socket
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(tls.ca))
    context.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer what old versions need
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as raw:
        if accepted:
            with context.wrap_socket(raw, server_hostname="localhost") as secured:
                assert secured.version() == version.replace("_", ".")
        else:
            with pytest.raises((ssl.SSLError, ConnectionResetError)) as refused:
                context.wrap_socket(raw, server_hostname="localhost")
            # the client did offer the old version: the server ended the handshake
            assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)


@pytest.mark.parametrize("method", ["metadata", "status"])
def test_model_metadata_and_status_need_a_key_too(tls_caller, method):
    from fpgascore.v1 import (model_metadata_pb2, model_service_pb2_grpc, model_status_pb2)
    if method == "metadata":
        call = tls_caller.stub.GetModelMetadata
        request = model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    else:
        call = model_service_pb2_grpc.ModelServiceStub(tls_caller.channel).GetModelStatus
        request = model_status_pb2.GetModelStatusRequest()
    with pytest.raises(grpc.RpcError) as refused:
        call(request, metadata=[("authorization", "wrong-key-123")], timeout=30)
    assert refused.value.code() == UNAUTHENTICATED and rpc.trailing(refused.value)["request-id"]
    response = call(request, metadata=[("authorization", PRIMARY)], timeout=30)
    assert response.ByteSize() > 0


@pytest.mark.parametrize("garbage", ["certificate", "key", "mismatch"])
def test_a_reload_of_bad_tls_files_keeps_the_old_ones_and_says_why(tls, tmp_path, garbage):
    import json
    import shutil
    import time
    cert, key = tmp_path / "live.pem", tmp_path / "live-key.pem"
    shutil.copy(tls.server.cert, cert)
    shutil.copy(tls.server.key, key)
    config = ServerConfig(tls_cert=cert, tls_key=key, primary_key=PRIMARY)
    with EmulatorProcess(config) as server:
        if garbage == "certificate":
            cert.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
        elif garbage == "key":
            key.write_bytes(b"\x00garbage")
        else:
            shutil.copy(tls.self_signed.key, key)  # a real key, not the certificate's
        server.reload()
        deadline = time.monotonic() + 10
        while '"tls.reload_failed"' not in server.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        rpc.secure(server.target, tls.ca).predict(REQUEST, [("authorization", PRIMARY)])  # still the old material
        events = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "tls.reload_failed"]
    assert len(failed) == 1 and "do not load together" in failed[0]["error"]
    assert not [e for e in events if e["event"] == "tls.loaded"]
    assert "BEGIN" not in json.dumps(failed)
