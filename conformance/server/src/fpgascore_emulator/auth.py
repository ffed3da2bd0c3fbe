"""The service's key rule as an interceptor: with auth on (TLS or --require-auth), a call of
a keyed method (``events.KEYED``) whose ``authorization`` holds neither the primary nor the
secondary key is refused UNAUTHENTICATED at its headers, its request message never read, so
a keyless peer holds no worker while its message trickles in. Health methods need no key."""
from __future__ import annotations

from typing import Callable, Optional

import grpc

from . import events
from .calls import CallError, refusing
from .security import authorization_of

AUTH_MISSING = "authorization missing: send the primary or secondary key in 'authorization' metadata"
AUTH_NOT_ACCEPTED = "authorization not accepted: send the primary or secondary key in 'authorization' metadata"
REFUSAL = "unauthenticated"  # the log-line budget of these refusals


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, accepts: Callable[[Optional[str]], bool]) -> None:
        """``accepts(authorization)`` says whether a header value holds a key."""
        self._accepts = accepts

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Optional[grpc.RpcMethodHandler]],
                          details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        if details.method in events.KEYED:
            authorization = authorization_of(details.invocation_metadata)
            if not self._accepts(authorization):
                message = AUTH_MISSING if authorization is None else AUTH_NOT_ACCEPTED
                return refusing(lambda: CallError(grpc.StatusCode.UNAUTHENTICATED, message, refusal=REFUSAL))
        return continuation(details)
