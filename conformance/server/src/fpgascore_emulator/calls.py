"""One call as the server's interceptors and servicers share it: its request id, what it
logged, the trailing metadata it will carry, and the typed errors that end it.

The outermost interceptor (``call_log``) makes a ``Call`` for every call it serves and makes it
``current()`` for the call's thread; the interceptors inside it and the servicer read and add
to it. A servicer or interceptor ends a call with ``CallError`` (a status and a message that
never holds a credential); ``call_log`` answers it.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import grpc

from .controls import Controls

REQUEST_ID = "request-id"
PUSHBACK = "grpc-retry-pushback-ms"

Metadata = Tuple[Tuple[str, str], ...]
Behaviour = Callable[[Any, grpc.ServicerContext], Any]


class CallError(Exception):
    """Ends the call with ``code`` and ``message``; ``metadata`` goes into its trailers.
    ``refusal`` names the kind of a refusal any peer can cause at will, whose log lines are
    rate-limited (``logs.LineBudget``)."""

    def __init__(self, code: grpc.StatusCode, message: str, metadata: Metadata = (),
                 refusal: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.metadata = metadata
        self.refusal = refusal


class CallAbandoned(Exception):
    """The caller is gone before its request arrived: nothing to answer; already logged."""


@dataclasses.dataclass
class Call:
    event: str
    peer: str
    # The call's metadata: the first value of each key; binary values as "<binary>".
    metadata: Dict[str, str]
    request_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    # What its log line carries besides event, code, latency and message.
    fields: Dict[str, object] = dataclasses.field(default_factory=dict)
    control: Controls = dataclasses.field(default_factory=Controls)
    trailers: List[Tuple[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, event: str, context: grpc.ServicerContext) -> "Call":
        metadata: Dict[str, str] = {}
        for key, value in context.invocation_metadata():
            metadata.setdefault(key, value if isinstance(value, str) else "<binary>")
        call = cls(event=event, peer=context.peer(), metadata=metadata)
        call.fields.update(request_id=call.request_id, peer=call.peer)
        return call


_current: contextvars.ContextVar[Call] = contextvars.ContextVar("fpgascore_call")


def current() -> Call:
    """The call this thread serves (set by the ``call_log`` interceptor)."""
    return _current.get()


@contextlib.contextmanager
def serving(call: Call) -> Iterator[Call]:
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


def rewrap(handler: grpc.RpcMethodHandler, wrap: Callable[[Behaviour], Behaviour]) -> grpc.RpcMethodHandler:
    """The same kind of handler (unary or stream request, unary response) with its behaviour
    wrapped; a streaming-response handler is returned as it is."""
    serializers = dict(request_deserializer=handler.request_deserializer,
                       response_serializer=handler.response_serializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), **serializers)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary), **serializers)
    return handler


def refusing(error: Callable[[], CallError]) -> grpc.RpcMethodHandler:
    """A handler that ends its call with ``error()`` without reading its request message."""
    def refuse(requests: Any, context: grpc.ServicerContext) -> None:
        raise error()

    return grpc.stream_unary_rpc_method_handler(refuse)
