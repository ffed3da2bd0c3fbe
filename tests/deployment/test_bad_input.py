"""Every refusal of the deployment API: its status code, a message naming the problem, and
nothing started (no server process, no service directory, no record)."""
from __future__ import annotations

import asyncio
import secrets

import grpc
import pytest
from cryptography.hazmat.primitives import serialization

import fpgascore
from fpgascore import (AlreadyExistsError, AuthenticationError, FailedPreconditionError, InvalidInputError,
                       NotFoundError)
from fpgascore.v1 import deployment_pb2, deployment_service_pb2_grpc

from .managers import ManagerProcess


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    manager = ManagerProcess(tmp_path_factory.mktemp("bad-input") / "state", secrets.token_urlsafe(24)).start()
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        deployments.create_service("taken", "resnet50")  # plaintext: no keys
    yield manager
    manager.cleanup()


@pytest.fixture
def deployments(manager):
    with manager.client() as client:
        yield client


def encrypted(key_path) -> str:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(b"passphrase")).decode()


def bad_creates(tls):
    cert, key = tls.server.cert.read_text(), tls.server.key.read_text()
    ssl = dict(ssl_enabled=True)
    return {
        "name-not-dns-safe": (dict(name="My_Service"), InvalidInputError, "is not DNS-safe"),
        "name-too-long": (dict(name="a" * 64), InvalidInputError, "is not DNS-safe"),
        "name-ends-with-dash": (dict(name="svc-"), InvalidInputError, "is not DNS-safe"),
        "name-empty": (dict(name=""), InvalidInputError, "is not DNS-safe"),
        "name-exists": (dict(name="taken"), AlreadyExistsError, "'taken' already exists"),
        "model-missing": (dict(model_id="inception:1"), NotFoundError, "'inception:1' is not registered"),
        "model-empty": (dict(model_id=""), InvalidInputError, "model_id is required"),
        "ssl-without-certificate": (dict(**ssl), InvalidInputError, "ssl_enabled needs ssl_certificate"),
        "ssl-without-key": (dict(**ssl, ssl_certificate=cert), InvalidInputError, "needs its private key"),
        "certificate-not-pem": (dict(**ssl, ssl_certificate=b"hello", ssl_key=key), InvalidInputError,
                                "ssl_certificate is not a PEM certificate"),
        "certificate-is-a-key": (dict(**ssl, ssl_certificate=key, ssl_key=key), InvalidInputError,
                                 "is not a PEM certificate: it holds a private key"),
        "certificate-garbled": (dict(**ssl, ssl_certificate=cert.replace("M", "A", 40), ssl_key=key),
                                InvalidInputError, "does not parse"),
        "key-not-pem": (dict(**ssl, ssl_certificate=cert, ssl_key="-----BEGIN PRIVATE KEY-----\nAAAA\n"
                             "-----END PRIVATE KEY-----\n"), InvalidInputError, "ssl_key is not a PEM private key"),
        "key-encrypted": (dict(**ssl, ssl_certificate=cert, ssl_key=encrypted(tls.server.key)), InvalidInputError,
                          "ssl_key is encrypted"),
        "key-does-not-match": (dict(**ssl, ssl_certificate=cert, ssl_key=tls.self_signed.key.read_text()),
                               InvalidInputError, "ssl_key does not match ssl_certificate"),
        "certificate-expired": (dict(**ssl, ssl_certificate=tls.expired.cert.read_text(),
                                     ssl_key=tls.expired.key.read_text()), InvalidInputError,
                                "ssl_certificate expired on"),
        "certificate-without-ssl": (dict(ssl_certificate=cert, ssl_key=key), InvalidInputError,
                                    "need ssl_enabled"),
        "keys-without-ssl": (dict(primary_key="p" * 20), InvalidInputError, "need ssl_enabled"),
        "key-too-short": (dict(**ssl, ssl_certificate=cert, ssl_key=key, primary_key="short"), InvalidInputError,
                          "primary_key has 5 characters"),
        "key-with-space": (dict(**ssl, ssl_certificate=cert, ssl_key=key, secondary_key="with a space inside"),
                           InvalidInputError, "secondary_key holds a character"),
        "keys-equal": (dict(**ssl, ssl_certificate=cert, ssl_key=key, primary_key="k" * 20, secondary_key="k" * 20),
                       InvalidInputError, "must differ"),
        "replicas-many": (dict(num_replicas=17), InvalidInputError, "at most 16"),
        "replicas-negative": (dict(num_replicas=-1), InvalidInputError, "at least 1"),
    }


CASE_NAMES = ["name-not-dns-safe", "name-too-long", "name-ends-with-dash", "name-empty", "name-exists",
              "model-missing", "model-empty", "ssl-without-certificate", "ssl-without-key", "certificate-not-pem",
              "certificate-is-a-key", "certificate-garbled", "key-not-pem", "key-encrypted", "key-does-not-match",
              "certificate-expired", "certificate-without-ssl", "keys-without-ssl", "key-too-short",
              "key-with-space", "keys-equal", "replicas-many", "replicas-negative"]


def test_every_case_has_a_name(tls):
    assert sorted(bad_creates(tls)) == sorted(CASE_NAMES)


@pytest.mark.parametrize("bad_create", CASE_NAMES)
def test_bad_create_is_refused_and_starts_nothing(manager, deployments, tls, bad_create):
    arguments, error, message = bad_creates(tls)[bad_create]
    arguments = {"name": "fresh", "model_id": "resnet50", **arguments}
    before = (manager.service_dirs(), sorted(manager.server_pids()), deployments.list_services())
    try:
        created = deployments.create_service(arguments.pop("name"), arguments.pop("model_id"), **arguments)
    except error as refused:
        raised = refused
    else:
        deployments.delete_service(created)  # leave the module's manager as it was for the other cases
        pytest.fail(f"{bad_create}: created, not refused with {error.__name__}")
    assert message in raised.details
    assert raised.code == error.default_code
    pem_bodies = [path.read_text().splitlines()[1] for path in (tls.server.cert, tls.server.key, tls.expired.key)]
    for secret in ("p" * 20, "k" * 20, "with a space inside", *pem_bodies):
        assert secret not in raised.details
    assert (manager.service_dirs(), sorted(manager.server_pids()), deployments.list_services()) == before


def test_the_admin_token_is_needed(manager):
    with fpgascore.DeploymentClient(manager.address, admin_token="not-the-admin-token") as wrong:
        with pytest.raises(AuthenticationError) as raised:
            wrong.list_services()
    assert "not-the-admin-token" not in str(raised.value)
    stub = deployment_service_pb2_grpc.DeploymentServiceStub(grpc.insecure_channel(manager.address))
    for metadata in ((), (("authorization", ""),), (("authorization", "Bearer " + manager.token[:-1]),)):
        with pytest.raises(grpc.RpcError) as raised:
            stub.ListServices(deployment_pb2.ListServicesRequest(), metadata=metadata, timeout=10)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Bearer and raw both work.
    stub.ListServices(deployment_pb2.ListServicesRequest(), metadata=(("authorization", "Bearer " + manager.token),))
    stub.ListServices(deployment_pb2.ListServicesRequest(), metadata=(("authorization", manager.token),))


@pytest.mark.parametrize("call", ["get_service", "delete_service", "get_auth_keys", "update_service"])
def test_a_missing_service_is_not_found(deployments, call):
    with pytest.raises(NotFoundError, match="service 'nowhere' not found"):
        getattr(deployments, call)("nowhere")


def test_keys_of_a_service_without_ssl_are_a_failed_precondition(deployments):
    for call in (lambda: deployments.get_auth_keys("taken"),
                 lambda: deployments.regenerate_auth_keys("taken", "primary")):
        with pytest.raises(FailedPreconditionError, match="has no keys: SSL is off"):
            call()


def test_key_type_must_be_primary_or_secondary(manager, deployments):
    with pytest.raises(InvalidInputError, match="PRIMARY or SECONDARY"):
        deployments.regenerate_auth_keys("taken", "tertiary")
    stub = deployment_service_pb2_grpc.DeploymentServiceStub(grpc.insecure_channel(manager.address))
    with pytest.raises(grpc.RpcError) as raised:  # the server's own check, past the client's
        stub.RegenerateAuthKeys(deployment_pb2.RegenerateAuthKeysRequest(service_id="taken"),
                                metadata=(("authorization", manager.token),), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "key_type must be PRIMARY or SECONDARY" in raised.value.details()


def test_bad_updates_change_nothing(manager, deployments, tls):
    before = deployments.get_service("taken")
    cases = [
        (dict(ssl_enabled=True), InvalidInputError, "turning SSL on needs ssl_certificate"),
        (dict(ssl_certificate=tls.server.cert, ssl_key=tls.server.key), InvalidInputError, "need ssl_enabled"),
        (dict(ssl_enabled=True, ssl_certificate=tls.expired.cert, ssl_key=tls.expired.key), InvalidInputError,
         "expired"),
        (dict(model_id="inception"), NotFoundError, "not registered"),
        (dict(num_replicas=17), InvalidInputError, "at most 16"),
        (dict(num_replicas=0), InvalidInputError, "at least 1"),
    ]
    for arguments, error, message in cases:
        with pytest.raises(error, match=message):
            deployments.update_service("taken", **arguments)
    after = deployments.get_service("taken")
    assert (after.port, after.ssl_enabled, after.model_id, after.updated_at) == \
        (before.port, before.ssl_enabled, before.model_id, before.updated_at)


def test_bad_model_names(deployments):
    for name in ("", "-leading", "has space", "x" * 64):
        with pytest.raises(InvalidInputError, match="is not valid"):
            deployments.register_model(name)
    with pytest.raises(NotFoundError):
        deployments.get_model("never-registered")


def test_models_get_versions(deployments):
    first = deployments.register_model("versioned", tags={"team": "vision"})
    second = deployments.register_model("versioned")
    assert (first.id, second.id) == ("versioned:1", "versioned:2")
    assert deployments.get_model("versioned").id == "versioned:2"  # a bare name: the latest
    assert deployments.get_model("versioned:1").tags == {"team": "vision"}
    assert {"versioned:1", "versioned:2"} <= {model.id for model in deployments.list_models()}


def test_the_asyncio_client(manager):
    async def main():
        async with fpgascore.AsyncDeploymentClient(manager.address, admin_token=manager.token) as client:
            taken = await client.get_service("taken")
            listed = await client.list_services()
            with pytest.raises(NotFoundError):
                await client.get_service("nowhere")
            return taken, listed
    taken, listed = asyncio.run(main())
    assert taken.name == "taken" and taken.state == fpgascore.ServiceState.RUNNING and not taken.ssl_enabled
    assert [service.id for service in listed] == [taken.id]
