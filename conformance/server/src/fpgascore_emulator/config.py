"""Server settings from command-line flags, each defaulting to an environment variable
(``FPGASCORE_<FLAG>``, e.g. ``FPGASCORE_SERVICE_TIME_MS``) so the container is configured
by environment alone. Keys are never taken from the command line (other users can read
it): only from files or from FPGASCORE_PRIMARY_KEY / FPGASCORE_SECONDARY_KEY.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any, Callable, Mapping, Optional, Sequence

ENV_PREFIX = "FPGASCORE_"
RESPONSE_ENCODINGS = ("float_val", "tensor_content")


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 50051
    port_file: Optional[str] = None
    # Plaintext, loopback-only port serving grpc.health.v1 alone (container HEALTHCHECK); 0 = off.
    health_port: int = 0
    # Plaintext HTTP port serving Prometheus metrics (/metrics) on metrics_host; 0 = off.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    tls_cert: Optional[str] = None
    tls_key: Optional[str] = None
    primary_key_file: Optional[str] = None
    secondary_key_file: Optional[str] = None
    require_auth: bool = False
    service_time_ms: float = 0.0
    fpgas: int = 1
    queue_depth: int = 32
    conformance: bool = False
    # Benchmarks only: skip pre-processing and the network (uniform scores, no CPU work).
    null_model: bool = False
    input_name: str = "images"
    output_name: str = "output_alias"
    features_name: str = "features"
    model_name: str = "resnet50"
    # model_spec.version answered, and the only version served (TF Serving's servable version).
    model_version: int = 1
    signature_name: str = "serving_default"
    # How outputs are encoded: float_val (TF Serving's default, kAsProtoField) or tensor_content.
    response_encoding: str = "float_val"
    max_message_bytes: int = 16 * 1024 * 1024
    max_batch: int = 32  # = the default queue depth: every batch the server accepts fits its queue
    # Calls admitted at once (keyed, when auth is on): x max_message_bytes bounds the request
    # messages the server reads; keyless calls are refused without reading theirs.
    max_concurrent_rpcs: int = 64
    grace_seconds: float = 10.0
    # A connection with no call for this long is closed (HTTP/2 GOAWAY: clients reconnect for
    # their next call), as load balancers close idle connections; 0 = never.
    max_connection_idle_seconds: float = 0.0
    # How long a call may take to send its request message once its headers are in.
    request_wait_seconds: float = 10.0
    # Decode budgets: what one request's images may declare, in total, and how many pixels
    # the whole server decodes at once (memory: ~11 bytes per pixel decoding); a call waits
    # at most decode_wait_seconds (and never past its deadline) for its turn.
    max_request_megapixels: int = 256
    decode_budget_megapixels: int = 64
    decode_wait_seconds: float = 5.0
    # CPU stages computing at once (cpu_slots.py); 0 = one per CPU the process may use.
    cpu_slots: int = 0
    # The score cache (score_cache.py): scores of images seen before, by content; 0 = off.
    score_cache_entries: int = 1024
    score_cache_bytes: int = 8 * 1024 * 1024

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    defaults = Settings()
    for field in dataclasses.fields(Settings):
        env_value = environ.get(ENV_PREFIX + field.name.upper())
        default = getattr(defaults, field.name)
        # mypy 1.0 types type(Any) as "object".
        kind: Callable[[str], Any] = type(default) if default is not None else str  # type: ignore[assignment]
        help_text = f"(env {ENV_PREFIX}{field.name.upper()}; default {default})"
        if kind is bool:
            value = _parse_bool(env_value) if env_value is not None else default
            parser.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, default=value,
                                help=help_text)
        else:
            value = kind(env_value) if env_value is not None else default
            parser.add_argument(_flag(field.name), type=kind, default=value, help=help_text)


def settings_from_args(args: argparse.Namespace) -> Settings:
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(Settings)}
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    if settings.fpgas < 1:
        raise SystemExit("--fpgas must be at least 1")
    if settings.queue_depth < 1:
        raise SystemExit("--queue-depth must be at least 1")
    if settings.response_encoding not in RESPONSE_ENCODINGS:
        raise SystemExit(f"--response-encoding must be one of {', '.join(RESPONSE_ENCODINGS)}")
    if settings.model_version < 0:
        raise SystemExit("--model-version must not be negative")
    if not settings.model_name or not settings.signature_name:
        raise SystemExit("--model-name and --signature-name must not be empty")
    if not settings.request_wait_seconds > 0:
        raise SystemExit("--request-wait-seconds must be positive")
    if settings.max_request_megapixels < 1 or settings.decode_budget_megapixels < 1:
        raise SystemExit("--max-request-megapixels and --decode-budget-megapixels must be at least 1")
    if not settings.decode_wait_seconds > 0:
        raise SystemExit("--decode-wait-seconds must be positive")
    if not 0 <= settings.metrics_port <= 65535:
        raise SystemExit("--metrics-port must be 0 (off) or a TCP port")
    if settings.max_connection_idle_seconds < 0:
        raise SystemExit("--max-connection-idle-seconds must be 0 (never) or positive")
    if settings.score_cache_entries < 0 or settings.score_cache_bytes < 0:
        raise SystemExit("--score-cache-entries and --score-cache-bytes must be 0 (off) or positive")
    if settings.cpu_slots < 0:
        raise SystemExit("--cpu-slots must be 0 (one per CPU) or positive")
    if settings.service_time_ms < 0:
        raise SystemExit("--service-time-ms must not be negative")


def parse(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> Settings:
    parser = argparse.ArgumentParser(prog="fpgascore-emulator serve",
                                     description="Run the FPGA-emulating scoring server.")
    add_arguments(parser, environ)
    return settings_from_args(parser.parse_args(argv))
