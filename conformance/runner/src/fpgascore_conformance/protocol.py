"""The driver protocol (proto/fpgascore/conformance/v1/driver.proto): its generated types,
one message per JSON line in protobuf's canonical JSON mapping, and the version handshake.

Written JSON uses lowerCamelCase names (the mapping's default); read JSON may use either
spelling and may hold fields this version does not know (ignored), as the proto file says.
"""
from __future__ import annotations

from typing import Optional, Type, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from .v1 import driver_pb2 as pb

PROTOCOL_VERSION = "1.1"
RUNNER = "fpgascore-conformance"
PROTO = "proto/fpgascore/conformance/v1/driver.proto"

M = TypeVar("M", bound=Message)


class ProtocolError(ValueError):
    """A line that is not the message it should be."""


def encode(message: Message) -> str:
    """One line of canonical JSON (no newline)."""
    line: str = json_format.MessageToJson(message, indent=None)
    return line


def decode(line: str, kind: Type[M]) -> M:
    if not line.lstrip().startswith("{"):  # json_format takes a bare list for an empty message
        raise ProtocolError(f"not a {kind.DESCRIPTOR.full_name}: not a JSON object: {line[:200]!r}")
    try:
        message: M = json_format.Parse(line, kind(), ignore_unknown_fields=True)
        return message
    except json_format.ParseError as error:
        raise ProtocolError(f"not a {kind.DESCRIPTOR.full_name} in canonical JSON ({error}): {line[:200]!r}") from None


def major(version: str) -> Optional[int]:
    head = version.strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None


def hello() -> pb.Hello:
    return pb.Hello(protocol_version=PROTOCOL_VERSION, runner=RUNNER)


def refusal(answer: pb.HelloAnswer) -> Optional[str]:
    """Why a driver's HelloAnswer is refused, or None when its major version is ours."""
    if not answer.protocol_version:
        return (f"its first line names no protocol_version: it does not speak the driver protocol "
                f"({PROTO}, version {PROTOCOL_VERSION})")
    if major(answer.protocol_version) != major(PROTOCOL_VERSION):
        return (f"it speaks driver protocol {answer.protocol_version}, this runner speaks {PROTOCOL_VERSION} "
                f"({PROTO}): another major version is not compatible")
    return None


def describe(answer: pb.HelloAnswer) -> str:
    """'fpgascore-python-driver (fpgascore 0.1.0, python; protocol 1.0)'."""
    client = " ".join(part for part in (answer.client, answer.client_version) if part) or "client unknown"
    details = ", ".join(part for part in (client, answer.language) if part)
    return f"{answer.driver or 'unnamed driver'} ({details}; protocol {answer.protocol_version})"


def code_name(code: int) -> str:
    """The gRPC code name of a result's code ("OK", "UNAVAILABLE"); the number if unknown."""
    try:
        name: str = pb.Code.Name(code)
        return name
    except ValueError:
        return str(code)
