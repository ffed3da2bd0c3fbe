from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthKeys(_message.Message):
    __slots__ = ["primary_key", "secondary_key"]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    SECONDARY_KEY_FIELD_NUMBER: _ClassVar[int]
    primary_key: str
    secondary_key: str
    def __init__(self, primary_key: _Optional[str] = ..., secondary_key: _Optional[str] = ...) -> None: ...

class CreateServiceRequest(_message.Message):
    __slots__ = ["model_id", "name", "num_replicas", "primary_key", "secondary_key", "ssl_certificate", "ssl_enabled", "ssl_key"]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NUM_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    SECONDARY_KEY_FIELD_NUMBER: _ClassVar[int]
    SSL_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SSL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SSL_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    name: str
    num_replicas: int
    primary_key: str
    secondary_key: str
    ssl_certificate: str
    ssl_enabled: bool
    ssl_key: str
    def __init__(self, name: _Optional[str] = ..., model_id: _Optional[str] = ..., ssl_enabled: bool = ..., ssl_certificate: _Optional[str] = ..., ssl_key: _Optional[str] = ..., primary_key: _Optional[str] = ..., secondary_key: _Optional[str] = ..., num_replicas: _Optional[int] = ...) -> None: ...

class CreateServiceResponse(_message.Message):
    __slots__ = ["keys", "service"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    keys: AuthKeys
    service: Service
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ..., keys: _Optional[_Union[AuthKeys, _Mapping]] = ...) -> None: ...

class DeleteServiceRequest(_message.Message):
    __slots__ = ["service_id"]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    def __init__(self, service_id: _Optional[str] = ...) -> None: ...

class DeleteServiceResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ExportServiceRequest(_message.Message):
    __slots__ = ["format", "image", "replicas", "service_id"]
    class Format(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_UNSPECIFIED: ExportServiceRequest.Format
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    KUBERNETES: ExportServiceRequest.Format
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    format: ExportServiceRequest.Format
    image: str
    replicas: int
    service_id: str
    def __init__(self, service_id: _Optional[str] = ..., format: _Optional[_Union[ExportServiceRequest.Format, str]] = ..., image: _Optional[str] = ..., replicas: _Optional[int] = ...) -> None: ...

class ExportServiceResponse(_message.Message):
    __slots__ = ["manifests"]
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    manifests: str
    def __init__(self, manifests: _Optional[str] = ...) -> None: ...

class GetAuthKeysRequest(_message.Message):
    __slots__ = ["service_id"]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    def __init__(self, service_id: _Optional[str] = ...) -> None: ...

class GetAuthKeysResponse(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: AuthKeys
    def __init__(self, keys: _Optional[_Union[AuthKeys, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ["model_id"]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class GetServiceRequest(_message.Message):
    __slots__ = ["service_id"]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    def __init__(self, service_id: _Optional[str] = ...) -> None: ...

class GetServiceResponse(_message.Message):
    __slots__ = ["service"]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: Service
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ["models"]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ["model_id"]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ["services"]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[Service]
    def __init__(self, services: _Optional[_Iterable[_Union[Service, _Mapping]]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ["created_at", "description", "id", "name", "tags", "version"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    created_at: _timestamp_pb2.Timestamp
    description: str
    id: str
    name: str
    tags: _containers.ScalarMap[str, str]
    version: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegenerateAuthKeysRequest(_message.Message):
    __slots__ = ["key_type", "service_id"]
    class KeyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    KEY_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_TYPE_UNSPECIFIED: RegenerateAuthKeysRequest.KeyType
    PRIMARY: RegenerateAuthKeysRequest.KeyType
    SECONDARY: RegenerateAuthKeysRequest.KeyType
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    key_type: RegenerateAuthKeysRequest.KeyType
    service_id: str
    def __init__(self, service_id: _Optional[str] = ..., key_type: _Optional[_Union[RegenerateAuthKeysRequest.KeyType, str]] = ...) -> None: ...

class RegenerateAuthKeysResponse(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: AuthKeys
    def __init__(self, keys: _Optional[_Union[AuthKeys, _Mapping]] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ["description", "name", "tags"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    description: str
    name: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterModelResponse(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class ReplicaStatus(_message.Message):
    __slots__ = ["calls_by_code", "health", "health_message", "images_scored", "index", "latency_p50_ms", "latency_p99_ms", "observed_at", "queue_capacity", "queue_in_use"]
    class Health(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    class CallsByCodeEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CALLS_BY_CODE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    HEALTH_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_UNSPECIFIED: ReplicaStatus.Health
    IMAGES_SCORED_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    NOT_SERVING: ReplicaStatus.Health
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_IN_USE_FIELD_NUMBER: _ClassVar[int]
    SERVING: ReplicaStatus.Health
    UNKNOWN: ReplicaStatus.Health
    calls_by_code: _containers.ScalarMap[str, int]
    health: ReplicaStatus.Health
    health_message: str
    images_scored: int
    index: int
    latency_p50_ms: float
    latency_p99_ms: float
    observed_at: _timestamp_pb2.Timestamp
    queue_capacity: int
    queue_in_use: int
    def __init__(self, index: _Optional[int] = ..., health: _Optional[_Union[ReplicaStatus.Health, str]] = ..., health_message: _Optional[str] = ..., calls_by_code: _Optional[_Mapping[str, int]] = ..., images_scored: _Optional[int] = ..., queue_in_use: _Optional[int] = ..., queue_capacity: _Optional[int] = ..., latency_p50_ms: _Optional[float] = ..., latency_p99_ms: _Optional[float] = ..., observed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Service(_message.Message):
    __slots__ = ["certificate_not_after", "certificate_sha256", "created_at", "id", "ip_address", "model_id", "name", "num_replicas", "port", "replicas", "runtime", "ssl_enabled", "state", "state_message", "updated_at"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    CERTIFICATE_NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATING: Service.State
    DELETING: Service.State
    FAILED: Service.State
    ID_FIELD_NUMBER: _ClassVar[int]
    IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NUM_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    RUNNING: Service.State
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    SSL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_UNSPECIFIED: Service.State
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    certificate_not_after: _timestamp_pb2.Timestamp
    certificate_sha256: str
    created_at: _timestamp_pb2.Timestamp
    id: str
    ip_address: str
    model_id: str
    name: str
    num_replicas: int
    port: int
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaStatus]
    runtime: str
    ssl_enabled: bool
    state: Service.State
    state_message: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., model_id: _Optional[str] = ..., state: _Optional[_Union[Service.State, str]] = ..., state_message: _Optional[str] = ..., ip_address: _Optional[str] = ..., port: _Optional[int] = ..., ssl_enabled: bool = ..., num_replicas: _Optional[int] = ..., runtime: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., certificate_sha256: _Optional[str] = ..., certificate_not_after: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., replicas: _Optional[_Iterable[_Union[ReplicaStatus, _Mapping]]] = ...) -> None: ...

class UpdateServiceRequest(_message.Message):
    __slots__ = ["model_id", "num_replicas", "service_id", "ssl_certificate", "ssl_enabled", "ssl_key"]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SSL_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SSL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SSL_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    num_replicas: int
    service_id: str
    ssl_certificate: str
    ssl_enabled: bool
    ssl_key: str
    def __init__(self, service_id: _Optional[str] = ..., ssl_enabled: bool = ..., ssl_certificate: _Optional[str] = ..., ssl_key: _Optional[str] = ..., model_id: _Optional[str] = ..., num_replicas: _Optional[int] = ...) -> None: ...

class UpdateServiceResponse(_message.Message):
    __slots__ = ["keys", "service"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    keys: AuthKeys
    service: Service
    def __init__(self, service: _Optional[_Union[Service, _Mapping]] = ..., keys: _Optional[_Union[AuthKeys, _Mapping]] = ...) -> None: ...
