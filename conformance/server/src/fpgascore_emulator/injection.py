"""The conformance controls (``controls``) as two interceptors, installed only with
--conformance, around the auth rule:

- ``ControlsReader`` (outside auth) reads a keyed call's controls and counts it as the next
  attempt of its case id — a refused attempt counts too, as a client's key failover must —
  and tells the caller what the server saw, in the call's trailing metadata (success or
  error), so that the conformance runner need not wait for the log:

      x-conformance-attempt: N              this attempt's number for its case id
      x-conformance-authorization: F1,F2    what attempts 1..N presented: the first 16 hex
                                            digits of SHA-256(authorization), "-" for none
      x-conformance-applied: delay-ms=200,fail=UNAVAILABLE   the controls this attempt obeys

- ``FaultInjector`` (inside auth and admission, so only for an authenticated call whose
  message arrived) obeys the delay and the injected failure.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

import grpc

from . import controls, events
from .calls import PUSHBACK, Behaviour, CallError, current, rewrap
from .security import fingerprint

ATTEMPT = "x-conformance-attempt"
AUTHORIZATION = "x-conformance-authorization"
APPLIED = "x-conformance-applied"
Continuation = Callable[[grpc.HandlerCallDetails], Optional[grpc.RpcMethodHandler]]


class ControlsReader(grpc.ServerInterceptor):
    def __init__(self) -> None:
        self._attempts = controls.AttemptCounter()

    def intercept_service(self, continuation: Continuation,
                          details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        handler = continuation(details)
        if handler is None or details.method not in events.KEYED:
            return handler
        return rewrap(handler, self._reading)

    def _reading(self, behaviour: Behaviour) -> Behaviour:
        def read_then_serve(request: Any, context: grpc.ServicerContext) -> Any:
            call = current()
            presented = fingerprint(call.metadata.get("authorization"))
            call.fields["authorization_sha256"] = presented
            try:
                control = controls.read(call.metadata, self._attempts, presented or "-")
            except controls.ControlError as error:
                raise CallError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from None
            call.control = control
            call.fields.update(case=control.case, attempt=control.attempt)
            call.trailers += controls.echoed(call.metadata, control.echo_keys)
            if control.case:
                call.trailers += [(ATTEMPT, str(control.attempt)),
                                  (AUTHORIZATION, ",".join(self._attempts.seen(control.case))),
                                  (APPLIED, applied(control))]
            return behaviour(request, context)

        return read_then_serve


def applied(control: controls.Controls) -> str:
    """The controls an attempt obeys, as ``name=value`` pairs ("none" when it obeys none)."""
    parts: List[str] = []
    if control.delay_s:
        parts.append(f"delay-ms={round(control.delay_s * 1000)}")
    if control.fail_code is not None:
        parts.append(f"fail={control.fail_code.name}")
    if control.float_val is not None:
        parts.append(f"encoding={'float_val' if control.float_val else 'tensor_content'}")
    if control.scores:
        at = f"@{control.scores_at[0]},{control.scores_at[1]}" if control.scores_at else ""
        parts.append(f"scores={control.scores}{at}")
    if control.pad_bytes:
        parts.append(f"pad-response-bytes={control.pad_bytes}")
    if control.echo_keys:
        parts.append(f"echo-metadata={'+'.join(control.echo_keys)}")
    return ",".join(parts) or "none"


class FaultInjector(grpc.ServerInterceptor):

    def intercept_service(self, continuation: Continuation,
                          details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        handler = continuation(details)
        if handler is None or details.method not in events.KEYED:
            return handler
        return rewrap(handler, self._obeying)

    def _obeying(self, behaviour: Behaviour) -> Behaviour:
        def obey_then_serve(request: Any, context: grpc.ServicerContext) -> Any:
            control = current().control
            if control.delay_s:  # cut short when the call ends (the caller cancelled, its deadline)
                ended = threading.Event()
                if context.add_callback(ended.set):
                    ended.wait(control.delay_s)
            if control.fail_code is not None:
                pushback = ((PUSHBACK, "0"),) if control.fail_code is grpc.StatusCode.RESOURCE_EXHAUSTED else ()
                raise CallError(control.fail_code,
                                f"injected failure (attempt {control.attempt} of case '{control.case}')", pushback)
            return behaviour(request, context)

        return obey_then_serve
