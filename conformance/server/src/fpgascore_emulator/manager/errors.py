"""The manager's errors: each carries the gRPC status code the API answers with, and a
message that names the problem and never holds a key, a token or PEM material."""
from __future__ import annotations

import grpc


class ManagerError(Exception):
    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ManagerError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ManagerError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ManagerError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ManagerError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unimplemented(ManagerError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Unavailable(ManagerError):
    """The runtime could not do it (engine down, no port, the server did not start)."""

    code = grpc.StatusCode.UNAVAILABLE
