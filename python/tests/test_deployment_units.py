"""The deployment client without a manager: the dataclasses (seed aliases, no key in a repr),
where the admin token may go, argument checks, and how errors are typed."""
from __future__ import annotations

import datetime

import grpc
import pytest

import fpgascore
from fpgascore import deployment
from fpgascore.v1 import deployment_pb2 as pb

pytestmark = pytest.mark.timeout(30)
TOKEN = "an-admin-token-of-some-length"


def service_message() -> pb.Service:
    message = pb.Service(id="svc_0123456789ab", name="demo", model_id="resnet50:1", state=pb.Service.RUNNING,
                         ip_address="127.0.0.1", port=40123, ssl_enabled=True, num_replicas=1, runtime="process")
    message.created_at.FromDatetime(datetime.datetime(2026, 1, 2, 3, 4, 5))
    return message


def test_a_service_has_snake_case_fields_the_seed_aliases_and_no_key_in_its_repr():
    keys = pb.AuthKeys(primary_key="primary-secret-value", secondary_key="secondary-secret-value")
    service = fpgascore.Service._from(service_message(), keys)
    assert (service.ip_address, service.port, service.state) == ("127.0.0.1", 40123, fpgascore.ServiceState.RUNNING)
    assert (service.ipAddress, service.modelId, service.sslEnabled, service.numReplicas) == \
        ("127.0.0.1", "resnet50:1", True, 1)
    assert (service.primary_key, service.primaryKey, service.secondaryKey) == \
        ("primary-secret-value", "primary-secret-value", "secondary-secret-value")
    assert service.address == "127.0.0.1:40123"
    assert service.created_at == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert service.updated_at is None and service.certificate_not_after is None
    for text in (repr(service), str(service)):
        assert "secret-value" not in text
    without = fpgascore.Service._from(service_message())
    assert without.primary_key is None and without.secondary_key is None


def test_auth_keys_unpack_and_hide_in_repr():
    keys = fpgascore.AuthKeys("primary-secret-value", "secondary-secret-value")
    primary, secondary = keys
    assert (primary, secondary) == ("primary-secret-value", "secondary-secret-value")
    assert keys.primaryKey == primary and keys.secondaryKey == secondary
    assert "secret-value" not in repr(keys)


def test_an_unknown_state_is_unknown():
    message = service_message()
    message.state = 99
    assert fpgascore.Service._from(message).state == fpgascore.ServiceState.UNKNOWN


@pytest.mark.parametrize("address", ["127.0.0.1:50055", "localhost:50055", "[::1]:50055", "127.9.9.9:1"])
def test_plaintext_to_loopback_is_allowed(address):
    fpgascore.DeploymentClient(address, admin_token=TOKEN).close()


def test_the_token_goes_over_plaintext_only_to_loopback_unless_allowed():
    with pytest.raises(fpgascore.InsecureKeyError, match="not a loopback address") as raised:
        fpgascore.DeploymentClient("10.1.2.3:50055", admin_token=TOKEN)
    assert TOKEN not in str(raised.value)
    fpgascore.DeploymentClient("10.1.2.3:50055", admin_token=TOKEN, allow_insecure_key=True).close()
    fpgascore.DeploymentClient("manager.example:50055", admin_token=TOKEN, use_ssl=True).close()


def test_the_token_comes_from_the_argument_or_the_environment(monkeypatch):
    monkeypatch.delenv("FPGASCORE_ADMIN_TOKEN", raising=False)
    with pytest.raises(fpgascore.InvalidInputError, match="admin_token is required"):
        fpgascore.DeploymentClient("127.0.0.1:50055")
    monkeypatch.setenv("FPGASCORE_ADMIN_TOKEN", TOKEN + "\n")
    client = fpgascore.DeploymentClient("127.0.0.1:50055")
    assert client._metadata == (("authorization", TOKEN),)  # trimmed, as the scoring client's keys
    assert TOKEN not in repr(client)
    with pytest.raises(fpgascore.InvalidKeyError, match="not printable ASCII"):
        fpgascore.DeploymentClient("127.0.0.1:50055", admin_token="tok\u00e9n")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:", ":50055", "127.0.0.1:port", ""])
def test_bad_addresses(address):
    with pytest.raises(ValueError):
        fpgascore.DeploymentClient(address, admin_token=TOKEN)


def test_requests_are_built_from_pem_text_bytes_or_paths(tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    (tmp_path / "cert.pem").write_text(pem)
    for value in (pem, pem.encode(), tmp_path / "cert.pem", str(tmp_path / "cert.pem")):
        _, request, _ = deployment._DeploymentBase._create_service("x", "resnet50", True, value, value, None, None, 1)
        assert request.ssl_certificate == pem and request.ssl_key == pem
    with pytest.raises(fpgascore.InvalidInputError, match="ssl_certificate: not PEM text and not a readable file"):
        deployment._DeploymentBase._create_service("x", "resnet50", True, tmp_path / "missing.pem", None, None, None, 1)


def test_update_sends_only_what_is_given():
    _, request, _ = deployment._DeploymentBase._update_service("demo", None, None, None, None, None)
    assert not request.HasField("ssl_enabled") and not request.HasField("num_replicas")
    _, request, _ = deployment._DeploymentBase._update_service("demo", False, None, None, None, 1)
    assert request.HasField("ssl_enabled") and request.ssl_enabled is False and request.num_replicas == 1


@pytest.mark.parametrize("key_type, value", [("primary", pb.RegenerateAuthKeysRequest.PRIMARY),
                                             ("Secondary", pb.RegenerateAuthKeysRequest.SECONDARY),
                                             (fpgascore.KeyType.PRIMARY, pb.RegenerateAuthKeysRequest.PRIMARY)])
def test_key_types(key_type, value):
    _, request, _ = deployment._DeploymentBase._regenerate_auth_keys("demo", key_type)
    assert request.key_type == value


def test_a_service_object_stands_for_its_id():
    service = fpgascore.Service._from(service_message())
    _, request, _ = deployment._DeploymentBase._delete_service(service)
    assert request.service_id == "svc_0123456789ab"
    with pytest.raises(fpgascore.InvalidInputError):
        deployment._DeploymentBase._get_service("")


@pytest.mark.parametrize("code, error", [
    (grpc.StatusCode.NOT_FOUND, fpgascore.NotFoundError),
    (grpc.StatusCode.ALREADY_EXISTS, fpgascore.AlreadyExistsError),
    (grpc.StatusCode.UNIMPLEMENTED, fpgascore.UnimplementedError),
    (grpc.StatusCode.INVALID_ARGUMENT, fpgascore.InvalidInputError),
    (grpc.StatusCode.UNAUTHENTICATED, fpgascore.AuthenticationError),
    (grpc.StatusCode.FAILED_PRECONDITION, fpgascore.FailedPreconditionError),
    (grpc.StatusCode.UNAVAILABLE, fpgascore.UnavailableError),
])
def test_errors_are_the_scoring_clients(code, error):
    class Failure(grpc.RpcError):
        def code(self):
            return code

        def details(self):
            return f"the manager said {TOKEN}"

        def trailing_metadata(self):
            return ()

        def initial_metadata(self):
            return ()

    client = fpgascore.DeploymentClient("127.0.0.1:50055", admin_token=TOKEN)
    raised = client._error(Failure())
    assert type(raised) is error and isinstance(raised, fpgascore.ScoringError) and raised.code == code
    assert TOKEN not in str(raised)  # redacted
    if code == grpc.StatusCode.NOT_FOUND:
        assert not isinstance(raised, fpgascore.ModelNotFoundError)  # a missing service is not a model
    client.close()


def test_model_not_found_is_a_not_found_error():
    assert issubclass(fpgascore.ModelNotFoundError, fpgascore.NotFoundError)
