"""The deployment client: the control plane of scoring services (``DeploymentService``,
served by ``scripts/run-emulator manage``), with the seed's method names.

    from fpgascore import DeploymentClient, PredictionClient

    with DeploymentClient("127.0.0.1:50055", admin_token=token) as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service("my-service", "resnet50", ssl_enabled=True,
                                             ssl_certificate="cert.pem", ssl_key="key.pem")
    client = PredictionClient(service.ipAddress, service.port, use_ssl=True,
                              access_token=service.primary_key)

Every call sends the admin token as ``authorization``. Over plaintext it is sent only to a
loopback address (the manager binds 127.0.0.1 by default) unless ``allow_insecure_key=True``.
Errors are the scoring client's (``fpgascore.ScoringError`` and its subclasses, with
``NotFoundError``, ``AlreadyExistsError``, ``UnimplementedError``); no error, repr or log
line holds the token or a key.
"""
from __future__ import annotations

import datetime
import enum
import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar, Union

import grpc
import grpc.aio

from ._auth import _checked_key
from ._channel import ChannelOption, create_aio_channel, create_channel, target_of
from ._config import check_timeout
from ._errors import InsecureKeyError, InvalidInputError, NotFoundError, ScoringError, from_rpc_error
from ._tls import RootCertificates
from .v1 import deployment_pb2 as pb
from .v1 import deployment_service_pb2_grpc

__all__ = ["DeploymentClient", "AsyncDeploymentClient", "Model", "Service", "ServiceState", "ReplicaStatus",
           "ReplicaHealth", "AuthKeys", "KeyType", "ADMIN_TOKEN_ENV"]

ADMIN_TOKEN_ENV = "FPGASCORE_ADMIN_TOKEN"
DEFAULT_TIMEOUT = 120.0  # a create waits for the service to serve (a container start, on a busy machine)
_ERRORS = {grpc.StatusCode.NOT_FOUND: NotFoundError}
Pem = Union[str, bytes, "os.PathLike[str]"]


class ServiceState(str, enum.Enum):
    CREATING = "CREATING"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    DELETING = "DELETING"
    UNKNOWN = "UNKNOWN"


class ReplicaHealth(str, enum.Enum):
    SERVING = "SERVING"
    NOT_SERVING = "NOT_SERVING"
    UNKNOWN = "UNKNOWN"  # its metrics could not be read (``health_message`` says why), or a newer manager's value


class KeyType(str, enum.Enum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"


def _time(timestamp: Any) -> Optional[datetime.datetime]:
    if not timestamp.seconds and not timestamp.nanos:
        return None
    when: datetime.datetime = timestamp.ToDatetime(tzinfo=datetime.timezone.utc)
    return when


@dataclass(frozen=True)
class Model:
    """A registered model; ``id`` is ``"<name>:<version>"``."""

    id: str
    name: str
    version: int
    description: str = ""
    tags: Dict[str, str] = field(default_factory=dict)
    created_at: Optional[datetime.datetime] = None

    @classmethod
    def _from(cls, message: pb.Model) -> "Model":
        return cls(message.id, message.name, message.version, message.description, dict(message.tags),
                   _time(message.created_at))


@dataclass(frozen=True)
class AuthKeys:
    """A service's two keys; unpacks as ``primary, secondary = client.get_auth_keys(name)``."""

    primary_key: str = field(repr=False)
    secondary_key: str = field(repr=False)

    def __iter__(self) -> Iterator[str]:
        return iter((self.primary_key, self.secondary_key))

    @property
    def primaryKey(self) -> str:  # noqa: N802 - the seed's spelling
        return self.primary_key

    @property
    def secondaryKey(self) -> str:  # noqa: N802
        return self.secondary_key


@dataclass(frozen=True)
class ReplicaStatus:
    """One server of a service as its /metrics showed it when ``get_service`` was answered.
    Counts and latencies are over the server process's lifetime (a restart starts them again);
    latencies are of Predict calls, every outcome, estimated from the server's histogram."""

    index: int
    health: ReplicaHealth
    health_message: str = ""
    calls_by_code: Dict[str, int] = field(default_factory=dict)
    images_scored: int = 0
    queue_in_use: int = 0
    queue_capacity: int = 0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    observed_at: Optional[datetime.datetime] = None

    @classmethod
    def _from(cls, message: pb.ReplicaStatus) -> "ReplicaStatus":
        known = pb.ReplicaStatus.Health.DESCRIPTOR.values_by_number.get(message.health)
        health = ReplicaHealth.__members__.get(known.name if known else "", ReplicaHealth.UNKNOWN)
        return cls(index=message.index, health=health, health_message=message.health_message,
                   calls_by_code=dict(message.calls_by_code), images_scored=message.images_scored,
                   queue_in_use=message.queue_in_use, queue_capacity=message.queue_capacity,
                   latency_p50_ms=message.latency_p50_ms, latency_p99_ms=message.latency_p99_ms,
                   observed_at=_time(message.observed_at))


@dataclass(frozen=True)
class Service:
    """A scoring service. ``primary_key`` / ``secondary_key`` are set only on what
    ``create_service`` (and an ``update_service`` that turned SSL on) returns; otherwise
    ``get_auth_keys``. Neither is ever part of the repr."""

    id: str
    name: str
    model_id: str
    state: ServiceState
    ip_address: str
    port: int
    ssl_enabled: bool
    num_replicas: int
    state_message: str = ""
    runtime: str = ""
    created_at: Optional[datetime.datetime] = None
    updated_at: Optional[datetime.datetime] = None
    certificate_sha256: str = ""
    certificate_not_after: Optional[datetime.datetime] = None
    primary_key: Optional[str] = field(default=None, repr=False)
    secondary_key: Optional[str] = field(default=None, repr=False)
    # Filled by get_service only: each running server's status, read from its metrics.
    replicas: Tuple[ReplicaStatus, ...] = ()

    @classmethod
    def _from(cls, message: pb.Service, keys: Optional[pb.AuthKeys] = None) -> "Service":
        known = pb.Service.State.DESCRIPTOR.values_by_number.get(message.state)  # a newer manager's state: UNKNOWN
        state = ServiceState.__members__.get(known.name if known else "", ServiceState.UNKNOWN)
        return cls(
            id=message.id, name=message.name, model_id=message.model_id, state=state,
            ip_address=message.ip_address, port=message.port, ssl_enabled=message.ssl_enabled,
            num_replicas=message.num_replicas, state_message=message.state_message, runtime=message.runtime,
            created_at=_time(message.created_at), updated_at=_time(message.updated_at),
            certificate_sha256=message.certificate_sha256,
            certificate_not_after=_time(message.certificate_not_after),
            primary_key=keys.primary_key or None if keys is not None else None,
            secondary_key=keys.secondary_key or None if keys is not None else None,
            replicas=tuple(ReplicaStatus._from(replica) for replica in message.replicas))

    @property
    def address(self) -> str:
        """``ip_address:port``, what a scoring client connects to."""
        return target_of(self.ip_address, self.port)

    # The seed's camelCase names.
    @property
    def ipAddress(self) -> str:  # noqa: N802
        return self.ip_address

    @property
    def modelId(self) -> str:  # noqa: N802
        return self.model_id

    @property
    def sslEnabled(self) -> bool:  # noqa: N802
        return self.ssl_enabled

    @property
    def numReplicas(self) -> int:  # noqa: N802
        return self.num_replicas

    @property
    def primaryKey(self) -> Optional[str]:  # noqa: N802
        return self.primary_key

    @property
    def secondaryKey(self) -> Optional[str]:  # noqa: N802
        return self.secondary_key


ServiceRef = Union[str, Service]


def _service_id(service: ServiceRef) -> str:
    value = service.id if isinstance(service, Service) else service
    if not isinstance(value, str) or not value:
        raise InvalidInputError("service_id must be a service's id, its name, or a Service")
    return value


def _pem(value: Optional[Pem], what: str) -> str:
    """PEM text from text, bytes or a file path."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("ascii", "replace")
    if isinstance(value, str) and "-----BEGIN" in value:
        return value
    try:
        with open(os.fspath(value), "r", encoding="ascii", errors="replace") as handle:
            return handle.read()
    except (OSError, TypeError) as error:
        raise InvalidInputError(f"{what}: not PEM text and not a readable file "
                                f"({getattr(error, 'strerror', None) or error})") from None


def _key_type(key_type: Union[KeyType, str]) -> pb.RegenerateAuthKeysRequest.KeyType:
    name = (key_type.value if isinstance(key_type, KeyType) else str(key_type)).upper()
    if name not in KeyType.__members__:
        raise InvalidInputError(f"key_type must be PRIMARY or SECONDARY, not {key_type!r}")
    number: pb.RegenerateAuthKeysRequest.KeyType = pb.RegenerateAuthKeysRequest.KeyType.Value(name)
    return number


def _split_address(address: str) -> Tuple[str, int]:
    host, sep, port = (address or "").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"address must be 'host:port', not {address!r}")
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_T = TypeVar("_T")
_Call = Tuple[str, Any, Callable[[Any], _T]]  # (method, request, how to read its response)


class _DeploymentBase:
    """Options, the token, and each call as (method, request, converter); the sync and the
    asyncio client only differ in how they make the call."""

    def __init__(self, address: str, admin_token: Optional[str] = None, *, use_ssl: Optional[bool] = None,
                 root_certificates: RootCertificates = None, server_name_override: Optional[str] = None,
                 allow_insecure_key: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 channel_options: Optional[List[ChannelOption]] = None) -> None:
        host, port = _split_address(address)
        self._target = target_of(host, port)
        if admin_token is None:
            admin_token = os.environ.get(ADMIN_TOKEN_ENV)
            if admin_token is None:
                raise InvalidInputError(f"admin_token is required (or set {ADMIN_TOKEN_ENV})")
        self._token = _checked_key("admin_token", admin_token)
        if use_ssl is None:
            use_ssl = root_certificates is not None or server_name_override is not None
        if not use_ssl and (root_certificates is not None or server_name_override):
            raise ValueError("root_certificates and server_name_override need use_ssl=True")
        if not use_ssl and not _is_loopback(host) and not allow_insecure_key:
            raise InsecureKeyError(
                f"refusing to send the admin token over plaintext to {host} (not a loopback address): use "
                f"use_ssl=True (the manager's --tls-cert), or allow_insecure_key=True for a trusted network")
        self._use_ssl = bool(use_ssl)
        self._root_certificates = root_certificates
        self._server_name_override = server_name_override
        self._timeout = check_timeout(timeout) or DEFAULT_TIMEOUT
        self._channel_options = list(channel_options or [])
        self._metadata = (("authorization", self._token),)

    def _error(self, exc: grpc.RpcError) -> ScoringError:
        return from_rpc_error(exc, (self._token,), _ERRORS, use_ssl=self._use_ssl)

    def _deadline(self, timeout: Optional[float]) -> float:
        return check_timeout(timeout) or self._timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self._target!r}, use_ssl={self._use_ssl}, timeout={self._timeout})"

    # -- the calls ------------------------------------------------------------------------
    @staticmethod
    def _register_model(name: str, description: str, tags: Optional[Dict[str, str]]) -> _Call[Model]:
        request = pb.RegisterModelRequest(name=name, description=description, tags=dict(tags or {}))
        return "RegisterModel", request, lambda response: Model._from(response.model)

    @staticmethod
    def _get_model(model_id: str) -> _Call[Model]:
        return "GetModel", pb.GetModelRequest(model_id=model_id), lambda response: Model._from(response.model)

    @staticmethod
    def _list_models() -> _Call[List[Model]]:
        return "ListModels", pb.ListModelsRequest(), lambda response: [Model._from(m) for m in response.models]

    @staticmethod
    def _create_service(name: str, model_id: Union[str, Model], ssl_enabled: bool, ssl_certificate: Optional[Pem],
                        ssl_key: Optional[Pem], primary_key: Optional[str], secondary_key: Optional[str],
                        num_replicas: int) -> _Call[Service]:
        request = pb.CreateServiceRequest(
            name=name, model_id=model_id.id if isinstance(model_id, Model) else model_id,
            ssl_enabled=bool(ssl_enabled), ssl_certificate=_pem(ssl_certificate, "ssl_certificate"),
            ssl_key=_pem(ssl_key, "ssl_key"), primary_key=primary_key or "", secondary_key=secondary_key or "",
            num_replicas=num_replicas)
        return ("CreateService", request,
                lambda response: Service._from(response.service, response.keys if response.HasField("keys") else None))

    @staticmethod
    def _update_service(service: ServiceRef, ssl_enabled: Optional[bool], ssl_certificate: Optional[Pem],
                        ssl_key: Optional[Pem], model_id: Union[str, Model, None],
                        num_replicas: Optional[int]) -> _Call[Service]:
        request = pb.UpdateServiceRequest(
            service_id=_service_id(service), ssl_certificate=_pem(ssl_certificate, "ssl_certificate"),
            ssl_key=_pem(ssl_key, "ssl_key"),
            model_id=(model_id.id if isinstance(model_id, Model) else model_id) or "")
        if ssl_enabled is not None:
            request.ssl_enabled = bool(ssl_enabled)
        if num_replicas is not None:
            request.num_replicas = num_replicas
        return ("UpdateService", request,
                lambda response: Service._from(response.service, response.keys if response.HasField("keys") else None))

    @staticmethod
    def _get_service(service: ServiceRef) -> _Call[Service]:
        return ("GetService", pb.GetServiceRequest(service_id=_service_id(service)),
                lambda response: Service._from(response.service))

    @staticmethod
    def _list_services(model_id: Union[str, Model, None]) -> _Call[List[Service]]:
        request = pb.ListServicesRequest(model_id=(model_id.id if isinstance(model_id, Model) else model_id) or "")
        return "ListServices", request, lambda response: [Service._from(s) for s in response.services]

    @staticmethod
    def _delete_service(service: ServiceRef) -> _Call[None]:
        return "DeleteService", pb.DeleteServiceRequest(service_id=_service_id(service)), lambda response: None

    @staticmethod
    def _get_auth_keys(service: ServiceRef) -> _Call[AuthKeys]:
        return ("GetAuthKeys", pb.GetAuthKeysRequest(service_id=_service_id(service)),
                lambda response: AuthKeys(response.keys.primary_key, response.keys.secondary_key))

    @staticmethod
    def _regenerate_auth_keys(service: ServiceRef, key_type: Union[KeyType, str]) -> _Call[AuthKeys]:
        request = pb.RegenerateAuthKeysRequest(service_id=_service_id(service), key_type=_key_type(key_type))
        return ("RegenerateAuthKeys", request,
                lambda response: AuthKeys(response.keys.primary_key, response.keys.secondary_key))

    @staticmethod
    def _export_service(service: ServiceRef, image: Optional[str], replicas: Optional[int]) -> _Call[str]:
        request = pb.ExportServiceRequest(service_id=_service_id(service), format=pb.ExportServiceRequest.KUBERNETES,
                                          image=image or "", replicas=replicas or 0)
        return "ExportService", request, lambda response: str(response.manifests)


class DeploymentClient(_DeploymentBase):
    """The blocking deployment client. ``DeploymentClient("127.0.0.1:50055", admin_token=...)``;
    options (keywords): ``use_ssl`` (default: whether ``root_certificates`` or
    ``server_name_override`` is given), ``root_certificates`` (PEM or a path; else
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, else the system roots), ``server_name_override``,
    ``allow_insecure_key``, ``timeout`` (seconds per call, default 120), ``channel_options``.
    Every method also takes ``timeout=``. Thread-safe; a context manager."""

    def __init__(self, address: str, admin_token: Optional[str] = None, **options: Any) -> None:
        super().__init__(address, admin_token, **options)
        self._channel = create_channel(self._target, self._use_ssl, self._root_certificates,
                                       self._server_name_override, self._channel_options)
        self._stub = deployment_service_pb2_grpc.DeploymentServiceStub(self._channel)

    def _run(self, call: _Call[_T], timeout: Optional[float]) -> _T:
        method, request, convert = call
        try:
            response = getattr(self._stub, method)(request, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return convert(response)

    def register_model(self, name: str, *, description: str = "", tags: Optional[Dict[str, str]] = None,
                       timeout: Optional[float] = None) -> Model:
        """Registers ``name`` (a new version of it when it exists): ``Model`` with id ``name:version``."""
        return self._run(self._register_model(name, description, tags), timeout)

    def get_model(self, model_id: str, *, timeout: Optional[float] = None) -> Model:
        """By id (``name:version``) or name (its latest version)."""
        return self._run(self._get_model(model_id), timeout)

    def list_models(self, *, timeout: Optional[float] = None) -> List[Model]:
        return self._run(self._list_models(), timeout)

    def create_service(self, name: str, model_id: Union[str, Model], *, ssl_enabled: bool = False,
                       ssl_certificate: Optional[Pem] = None, ssl_key: Optional[Pem] = None,
                       primary_key: Optional[str] = None, secondary_key: Optional[str] = None,
                       num_replicas: int = 1, timeout: Optional[float] = None) -> Service:
        """Starts a service and returns it RUNNING, with its keys when ``ssl_enabled``
        (generated unless given). PEM arguments are text, bytes or file paths."""
        return self._run(self._create_service(name, model_id, ssl_enabled, ssl_certificate, ssl_key, primary_key,
                                              secondary_key, num_replicas), timeout)

    def update_service(self, service_id: ServiceRef, *, ssl_enabled: Optional[bool] = None,
                       ssl_certificate: Optional[Pem] = None, ssl_key: Optional[Pem] = None,
                       model_id: Union[str, Model, None] = None, num_replicas: Optional[int] = None,
                       timeout: Optional[float] = None) -> Service:
        """A new certificate (swapped in by reload), SSL on or off, another model or another
        number of replicas (a restart on the same port). Turning SSL on returns the new keys on
        the service."""
        return self._run(self._update_service(service_id, ssl_enabled, ssl_certificate, ssl_key, model_id,
                                              num_replicas), timeout)

    def get_service(self, service_id: ServiceRef, *, timeout: Optional[float] = None) -> Service:
        """By id or name."""
        return self._run(self._get_service(service_id), timeout)

    def list_services(self, *, model_id: Union[str, Model, None] = None,
                      timeout: Optional[float] = None) -> List[Service]:
        return self._run(self._list_services(model_id), timeout)

    def delete_service(self, service_id: ServiceRef, *, timeout: Optional[float] = None) -> None:
        """Stops the service and removes its process or container and files."""
        self._run(self._delete_service(service_id), timeout)

    def get_auth_keys(self, service_id: ServiceRef, *, timeout: Optional[float] = None) -> AuthKeys:
        return self._run(self._get_auth_keys(service_id), timeout)

    def regenerate_auth_keys(self, service_id: ServiceRef, key_type: Union[KeyType, str], *,
                             timeout: Optional[float] = None) -> AuthKeys:
        """Replaces one key (``"PRIMARY"`` / ``"SECONDARY"``, any case); returns both. The other
        key works throughout; the old one is refused once this returns."""
        return self._run(self._regenerate_auth_keys(service_id, key_type), timeout)

    def export_kubernetes(self, service_id: ServiceRef, *, image: Optional[str] = None,
                          replicas: Optional[int] = None, timeout: Optional[float] = None) -> str:
        """The service as Kubernetes manifests (YAML: a Secret with its certificate, private key
        and keys, a Deployment, a Service). ``image``: the server image (default the manager's);
        ``replicas``: the Deployment's (default the service's). The text holds secrets."""
        return self._run(self._export_service(service_id, image, replicas), timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "DeploymentClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncDeploymentClient(_DeploymentBase):
    """The asyncio twin of :class:`DeploymentClient` (grpc.aio): the same methods, awaited.
    Create it inside a running event loop; ``async with`` or ``await close()``."""

    def __init__(self, address: str, admin_token: Optional[str] = None, **options: Any) -> None:
        super().__init__(address, admin_token, **options)
        self._channel = create_aio_channel(self._target, self._use_ssl, self._root_certificates,
                                           self._server_name_override, self._channel_options)
        self._stub = deployment_service_pb2_grpc.DeploymentServiceStub(self._channel)

    async def _run(self, call: _Call[_T], timeout: Optional[float]) -> _T:
        method, request, convert = call
        try:
            response = await getattr(self._stub, method)(request, timeout=self._deadline(timeout),
                                                         metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return convert(response)

    async def register_model(self, name: str, *, description: str = "", tags: Optional[Dict[str, str]] = None,
                             timeout: Optional[float] = None) -> Model:
        return await self._run(self._register_model(name, description, tags), timeout)

    async def get_model(self, model_id: str, *, timeout: Optional[float] = None) -> Model:
        return await self._run(self._get_model(model_id), timeout)

    async def list_models(self, *, timeout: Optional[float] = None) -> List[Model]:
        return await self._run(self._list_models(), timeout)

    async def create_service(self, name: str, model_id: Union[str, Model], *, ssl_enabled: bool = False,
                             ssl_certificate: Optional[Pem] = None, ssl_key: Optional[Pem] = None,
                             primary_key: Optional[str] = None, secondary_key: Optional[str] = None,
                             num_replicas: int = 1, timeout: Optional[float] = None) -> Service:
        return await self._run(self._create_service(name, model_id, ssl_enabled, ssl_certificate, ssl_key,
                                                    primary_key, secondary_key, num_replicas), timeout)

    async def update_service(self, service_id: ServiceRef, *, ssl_enabled: Optional[bool] = None,
                             ssl_certificate: Optional[Pem] = None, ssl_key: Optional[Pem] = None,
                             model_id: Union[str, Model, None] = None, num_replicas: Optional[int] = None,
                             timeout: Optional[float] = None) -> Service:
        return await self._run(self._update_service(service_id, ssl_enabled, ssl_certificate, ssl_key, model_id,
                                                    num_replicas), timeout)

    async def get_service(self, service_id: ServiceRef, *, timeout: Optional[float] = None) -> Service:
        return await self._run(self._get_service(service_id), timeout)

    async def list_services(self, *, model_id: Union[str, Model, None] = None,
                            timeout: Optional[float] = None) -> List[Service]:
        return await self._run(self._list_services(model_id), timeout)

    async def delete_service(self, service_id: ServiceRef, *, timeout: Optional[float] = None) -> None:
        await self._run(self._delete_service(service_id), timeout)

    async def get_auth_keys(self, service_id: ServiceRef, *, timeout: Optional[float] = None) -> AuthKeys:
        return await self._run(self._get_auth_keys(service_id), timeout)

    async def regenerate_auth_keys(self, service_id: ServiceRef, key_type: Union[KeyType, str], *,
                                   timeout: Optional[float] = None) -> AuthKeys:
        return await self._run(self._regenerate_auth_keys(service_id, key_type), timeout)

    async def export_kubernetes(self, service_id: ServiceRef, *, image: Optional[str] = None,
                                replicas: Optional[int] = None, timeout: Optional[float] = None) -> str:
        return await self._run(self._export_service(service_id, image, replicas), timeout)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "AsyncDeploymentClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
