from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ABORTED: Code
ACTION_IMAGES: Action
ACTION_METADATA: Action
ACTION_NONE: Action
ACTION_REQUEST: Action
ACTION_TENSOR: Action
ACTION_UNSPECIFIED: Action
ALREADY_EXISTS: Code
AUTH_SCHEME_BEARER: AuthScheme
AUTH_SCHEME_RAW: AuthScheme
AUTH_SCHEME_UNSPECIFIED: AuthScheme
CANCELLED: Code
DATA_LOSS: Code
DEADLINE_EXCEEDED: Code
DESCRIPTOR: _descriptor.FileDescriptor
FAILED_PRECONDITION: Code
INTERNAL: Code
INVALID_ARGUMENT: Code
NOT_FOUND: Code
OK: Code
OUT_OF_RANGE: Code
PERMISSION_DENIED: Code
RESOURCE_EXHAUSTED: Code
UNAUTHENTICATED: Code
UNAVAILABLE: Code
UNIMPLEMENTED: Code
UNKNOWN: Code

class CallResult(_message.Message):
    __slots__ = ["code", "message", "metadata", "request_id", "shape", "top_k", "trailers"]
    class TrailersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TRAILERS_FIELD_NUMBER: _ClassVar[int]
    code: Code
    message: str
    metadata: ModelMetadata
    request_id: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    top_k: _containers.RepeatedCompositeFieldContainer[TopK]
    trailers: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[_Union[Code, str]] = ..., message: _Optional[str] = ..., request_id: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., top_k: _Optional[_Iterable[_Union[TopK, _Mapping]]] = ..., metadata: _Optional[_Union[ModelMetadata, _Mapping]] = ..., trailers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DriverAnswer(_message.Message):
    __slots__ = ["error", "id", "results"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    error: str
    id: str
    results: _containers.RepeatedCompositeFieldContainer[CallResult]
    def __init__(self, id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[CallResult, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class DriverRequest(_message.Message):
    __slots__ = ["access_token", "action", "allow_insecure_key", "auth_scheme", "calls", "cancel_after_ms", "concurrency", "host", "id", "images", "metadata", "model_name", "port", "request_file", "retry", "root_certificates_file", "secondary_access_token", "server_name_override", "session", "signature_name", "tensor_file", "tensor_shape", "timeout_ms", "top_k", "use_ssl"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_INSECURE_KEY_FIELD_NUMBER: _ClassVar[int]
    AUTH_SCHEME_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FILE_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    ROOT_CERTIFICATES_FILE_FIELD_NUMBER: _ClassVar[int]
    SECONDARY_ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SERVER_NAME_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_NAME_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FILE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_SHAPE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    USE_SSL_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    action: Action
    allow_insecure_key: bool
    auth_scheme: AuthScheme
    calls: int
    cancel_after_ms: int
    concurrency: int
    host: str
    id: str
    images: _containers.RepeatedScalarFieldContainer[str]
    metadata: _containers.ScalarMap[str, str]
    model_name: str
    port: int
    request_file: str
    retry: RetryPolicy
    root_certificates_file: str
    secondary_access_token: str
    server_name_override: str
    session: str
    signature_name: str
    tensor_file: str
    tensor_shape: _containers.RepeatedScalarFieldContainer[int]
    timeout_ms: int
    top_k: int
    use_ssl: bool
    def __init__(self, id: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., use_ssl: bool = ..., root_certificates_file: _Optional[str] = ..., server_name_override: _Optional[str] = ..., access_token: _Optional[str] = ..., secondary_access_token: _Optional[str] = ..., auth_scheme: _Optional[_Union[AuthScheme, str]] = ..., allow_insecure_key: bool = ..., timeout_ms: _Optional[int] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., model_name: _Optional[str] = ..., signature_name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., action: _Optional[_Union[Action, str]] = ..., images: _Optional[_Iterable[str]] = ..., tensor_file: _Optional[str] = ..., tensor_shape: _Optional[_Iterable[int]] = ..., request_file: _Optional[str] = ..., calls: _Optional[int] = ..., concurrency: _Optional[int] = ..., top_k: _Optional[int] = ..., session: _Optional[str] = ..., cancel_after_ms: _Optional[int] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ["protocol_version", "runner"]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    protocol_version: str
    runner: str
    def __init__(self, protocol_version: _Optional[str] = ..., runner: _Optional[str] = ...) -> None: ...

class HelloAnswer(_message.Message):
    __slots__ = ["client", "client_version", "driver", "language", "protocol_version"]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    client: str
    client_version: str
    driver: str
    language: str
    protocol_version: str
    def __init__(self, protocol_version: _Optional[str] = ..., driver: _Optional[str] = ..., client: _Optional[str] = ..., client_version: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class ModelMetadata(_message.Message):
    __slots__ = ["inputs", "model_name", "outputs", "signature_name", "version"]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    model_name: str
    outputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    signature_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., signature_name: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ["class_id", "score"]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    class_id: int
    score: float
    def __init__(self, class_id: _Optional[int] = ..., score: _Optional[float] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ["initial_backoff_ms", "max_attempts", "max_backoff_ms", "multiplier"]
    INITIAL_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    initial_backoff_ms: int
    max_attempts: int
    max_backoff_ms: int
    multiplier: float
    def __init__(self, max_attempts: _Optional[int] = ..., initial_backoff_ms: _Optional[int] = ..., max_backoff_ms: _Optional[int] = ..., multiplier: _Optional[float] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ["dtype", "name", "shape"]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class TopK(_message.Message):
    __slots__ = ["predictions"]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    predictions: _containers.RepeatedCompositeFieldContainer[Prediction]
    def __init__(self, predictions: _Optional[_Iterable[_Union[Prediction, _Mapping]]] = ...) -> None: ...

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class AuthScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
