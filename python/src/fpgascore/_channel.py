"""One long-lived gRPC channel per client: target, TLS, keepalive and message-size options."""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import grpc
import grpc.aio

from ._tls import RootCertificates, channel_credentials
from ._version import __version__

__all__ = ["target_of", "channel_options", "create_channel", "create_aio_channel", "check_max_response_bytes",
           "DEFAULT_MAX_RESPONSE_BYTES"]

# The largest request sent (a request over it fails locally with RESOURCE_EXHAUSTED).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# The largest response accepted, unless max_response_bytes says otherwise: the reference
# server's own message limit. A response over it fails with RESOURCE_EXHAUSTED.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_MAX_CHANNEL_INT = 2**31 - 1

ChannelOption = Tuple[str, Union[str, int]]


def target_of(host: str, port: int) -> str:
    """``host:port``, with an IPv6 literal put in brackets."""
    if not host:
        raise ValueError("host must not be empty")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1..65535, not {port!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def check_max_response_bytes(value: object) -> int:
    """``value`` when it is a whole number of bytes gRPC can take (1 .. 2**31-1)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_CHANNEL_INT:
        raise ValueError(f"max_response_bytes must be an integer in 1..{_MAX_CHANNEL_INT}, not {value!r}")
    return value


def channel_options(server_name_override: Optional[str] = None,
                    extra: Optional[List[ChannelOption]] = None,
                    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> List[ChannelOption]:
    """Options for a long-lived channel: keepalive pings, message limits, name override."""
    options: List[ChannelOption] = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", max_response_bytes),
        ("grpc.enable_retries", 0),  # the client's own RetryPolicy retries, nothing else
        ("grpc.primary_user_agent", f"fpgascore-python/{__version__}"),
    ]
    if server_name_override:
        options.append(("grpc.ssl_target_name_override", server_name_override))
        options.append(("grpc.default_authority", server_name_override))
    options.extend(extra or [])
    return options


def create_channel(target: str, use_ssl: bool, root_certificates: RootCertificates = None,
                   server_name_override: Optional[str] = None,
                   extra_options: Optional[List[ChannelOption]] = None,
                   max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> grpc.Channel:
    """A blocking-API channel."""
    options = channel_options(server_name_override, extra_options, max_response_bytes)
    if use_ssl:
        return grpc.secure_channel(target, channel_credentials(root_certificates), options=options)
    return grpc.insecure_channel(target, options=options)


def create_aio_channel(target: str, use_ssl: bool, root_certificates: RootCertificates = None,
                       server_name_override: Optional[str] = None,
                       extra_options: Optional[List[ChannelOption]] = None,
                       max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> grpc.aio.Channel:
    """An asyncio channel (must be created inside a running event loop's thread)."""
    options = channel_options(server_name_override, extra_options, max_response_bytes)
    if use_ssl:
        return grpc.aio.secure_channel(target, channel_credentials(root_certificates), options=options)
    return grpc.aio.insecure_channel(target, options=options)
