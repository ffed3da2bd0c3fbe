"""The deployment API over gRPC: the admin-token check on every call, and the servicer that
turns requests into Manager calls and records into messages."""
from __future__ import annotations

import hmac
from typing import Any, Callable, Iterable, Optional, TypeVar, cast

import grpc

from fpgascore.v1 import deployment_pb2 as pb
from fpgascore.v1 import deployment_service_pb2_grpc

from ..limits import bounded
from ..logs import LineBudget, log
from ..security import authorization_of, presented_key
from .errors import InvalidArgument, ManagerError
from .manager import PRIMARY, SECONDARY, Manager
from .replicas import ReplicaStatus
from .store import ModelRecord, ServiceRecord
from .validation import certificate_info

_KEY_TYPES = {pb.RegenerateAuthKeysRequest.PRIMARY: PRIMARY, pb.RegenerateAuthKeysRequest.SECONDARY: SECONDARY}


class AdminTokenInterceptor(grpc.ServerInterceptor):
    """Every method needs ``authorization: <token>`` (raw or ``Bearer <token>``), compared in
    constant time; else UNAUTHENTICATED, before the request is read. Nothing sent is echoed."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

        def refuse(request: Any, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "this call needs the manager's admin token in 'authorization'")

        self._refusal = grpc.unary_unary_rpc_method_handler(refuse)
        self._refusal_lines = LineBudget("manager.unauthenticated")

    def accepts(self, authorization: Optional[str]) -> bool:
        presented = presented_key(authorization)
        return presented is not None and hmac.compare_digest(presented, self._token)

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        if self.accepts(authorization_of(handler_call_details.invocation_metadata)):
            return continuation(handler_call_details)
        # Anyone who reaches the port can cause this line: bounded and rate-limited.
        self._refusal_lines.log("manager.unauthenticated", method=bounded(handler_call_details.method))
        return self._refusal


def _timestamp(message: Any, seconds: float) -> None:
    message.FromNanoseconds(int(seconds * 1e9))


def model_message(record: ModelRecord) -> pb.Model:
    message = pb.Model(id=record.id, name=record.name, version=record.version, description=record.description,
                       tags=record.tags)
    _timestamp(message.created_at, record.created_at)
    return message


def replica_message(status: ReplicaStatus) -> pb.ReplicaStatus:
    message = pb.ReplicaStatus(
        index=status.index, health=pb.ReplicaStatus.Health.Value(status.health), health_message=status.health_message,
        calls_by_code=status.calls_by_code, images_scored=status.images_scored, queue_in_use=status.queue_in_use,
        queue_capacity=status.queue_capacity, latency_p50_ms=status.latency_p50_ms,
        latency_p99_ms=status.latency_p99_ms)
    _timestamp(message.observed_at, status.observed_at)
    return message


def service_message(record: ServiceRecord, replicas: Iterable[ReplicaStatus] = ()) -> pb.Service:
    message = pb.Service(
        id=record.id, name=record.name, model_id=record.model_id, state=pb.Service.State.Value(record.state),
        state_message=record.state_message, ip_address=record.host, port=record.port,
        ssl_enabled=record.ssl_enabled, num_replicas=record.num_replicas, runtime=record.runtime)
    _timestamp(message.created_at, record.created_at)
    _timestamp(message.updated_at, record.updated_at)
    message.replicas.extend(replica_message(status) for status in replicas)
    if record.ssl_enabled and record.certificate_pem:
        info = certificate_info(record.certificate_pem)
        message.certificate_sha256 = info.sha256
        message.certificate_not_after.FromDatetime(info.not_after)
    return message


def keys_message(record: ServiceRecord) -> pb.AuthKeys:
    return pb.AuthKeys(primary_key=record.primary_key, secondary_key=record.secondary_key)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _handled(method: _Method) -> _Method:
    """Runs a servicer method; ManagerError → its status, anything else → INTERNAL (logged
    by type, never with the request)."""
    name = method.__name__

    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except ManagerError as error:
            log("manager.refused", method=name, code=error.code.name, message=error.message)
            context.abort(error.code, error.message)
        except Exception as error:  # a bug: the caller learns nothing but that
            log("manager.error", method=name, error=type(error).__name__, message=str(error)[:500])
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in {name} (see the manager's log)")
    wrapper.__name__ = name
    return cast(_Method, wrapper)


class DeploymentServicer(deployment_service_pb2_grpc.DeploymentServiceServicer):
    def __init__(self, manager: Manager) -> None:
        self._manager = manager

    @_handled
    def RegisterModel(self, request: pb.RegisterModelRequest,
                      context: grpc.ServicerContext) -> pb.RegisterModelResponse:
        model = self._manager.register_model(request.name, request.description, dict(request.tags))
        return pb.RegisterModelResponse(model=model_message(model))

    @_handled
    def GetModel(self, request: pb.GetModelRequest,
                 context: grpc.ServicerContext) -> pb.GetModelResponse:
        return pb.GetModelResponse(model=model_message(self._manager.model(request.model_id)))

    @_handled
    def ListModels(self, request: pb.ListModelsRequest,
                   context: grpc.ServicerContext) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[model_message(model) for model in self._manager.store.models()])

    @_handled
    def CreateService(self, request: pb.CreateServiceRequest,
                      context: grpc.ServicerContext) -> pb.CreateServiceResponse:
        record = self._manager.create_service(
            request.name, request.model_id, request.ssl_enabled, request.ssl_certificate, request.ssl_key,
            request.primary_key, request.secondary_key, request.num_replicas)
        response = pb.CreateServiceResponse(service=service_message(record))
        if record.ssl_enabled:
            response.keys.CopyFrom(keys_message(record))
        return response

    @_handled
    def UpdateService(self, request: pb.UpdateServiceRequest,
                      context: grpc.ServicerContext) -> pb.UpdateServiceResponse:
        record, issued = self._manager.update_service(
            request.service_id,
            ssl_enabled=request.ssl_enabled if request.HasField("ssl_enabled") else None,
            ssl_certificate=request.ssl_certificate, ssl_key=request.ssl_key, model_id=request.model_id,
            num_replicas=request.num_replicas if request.HasField("num_replicas") else None)
        response = pb.UpdateServiceResponse(service=service_message(record))
        if issued:
            response.keys.CopyFrom(keys_message(record))
        return response

    @_handled
    def GetService(self, request: pb.GetServiceRequest,
                   context: grpc.ServicerContext) -> pb.GetServiceResponse:
        record = self._manager.service(request.service_id)
        return pb.GetServiceResponse(service=service_message(record, self._manager.replicas(record)))

    @_handled
    def ListServices(self, request: pb.ListServicesRequest,
                     context: grpc.ServicerContext) -> pb.ListServicesResponse:
        records = self._manager.services(request.model_id)
        return pb.ListServicesResponse(services=[service_message(record) for record in records])

    @_handled
    def DeleteService(self, request: pb.DeleteServiceRequest,
                      context: grpc.ServicerContext) -> pb.DeleteServiceResponse:
        self._manager.delete_service(request.service_id)
        return pb.DeleteServiceResponse()

    @_handled
    def GetAuthKeys(self, request: pb.GetAuthKeysRequest,
                    context: grpc.ServicerContext) -> pb.GetAuthKeysResponse:
        primary, secondary = self._manager.auth_keys(request.service_id)
        return pb.GetAuthKeysResponse(keys=pb.AuthKeys(primary_key=primary, secondary_key=secondary))

    @_handled
    def RegenerateAuthKeys(self, request: pb.RegenerateAuthKeysRequest,
                           context: grpc.ServicerContext) -> pb.RegenerateAuthKeysResponse:
        key_type = _KEY_TYPES.get(request.key_type, "")
        record = self._manager.regenerate_auth_key(request.service_id, key_type)
        return pb.RegenerateAuthKeysResponse(keys=keys_message(record))

    @_handled
    def ExportService(self, request: pb.ExportServiceRequest,
                      context: grpc.ServicerContext) -> pb.ExportServiceResponse:
        if request.format not in (pb.ExportServiceRequest.KUBERNETES, pb.ExportServiceRequest.FORMAT_UNSPECIFIED):
            raise InvalidArgument(f"export format {request.format} is not known; KUBERNETES is")
        text = self._manager.export_kubernetes(request.service_id, request.image, request.replicas)
        return pb.ExportServiceResponse(manifests=text)


def add_to_server(manager: Manager, server: grpc.Server) -> None:
    deployment_service_pb2_grpc.add_DeploymentServiceServicer_to_server(DeploymentServicer(manager), server)
