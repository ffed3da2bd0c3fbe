"""Wiring: the gRPC server, its credentials, the FPGA pool, signals and shutdown."""
from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import List, Mapping, Optional

import grpc

from fpgascore.v1 import health_service_pb2_grpc, model_service_pb2_grpc, prediction_service_pb2_grpc

from .admission import GRPC_LIMIT_FACTOR, AdmissionInterceptor
from .auth import AuthInterceptor
from .call_log import CallLogInterceptor
from .cpu_slots import CpuSlots, default_slots
from .config import Settings
from .injection import ControlsReader, FaultInjector
from .fpga import FpgaPool
from .health import MAX_WATCHERS, HealthServicer
from .logs import log
from .metrics import Metrics
from . import memory, model as models
from .score_cache import ScoreCache
from .security import KeyStore, TlsError, TlsFiles
from .service import ModelServicer, PredictionServicer

KEEPALIVE_MIN_PING_INTERVAL_MS = 10_000


class EmulatorServer:
    """The reference server. ``start()``, then ``port``; ``reload()``; ``stop()``."""

    def __init__(self, settings: Settings, environ: Mapping[str, str] = os.environ) -> None:
        self.settings = settings
        try:
            self.keys = KeyStore(settings, environ)
            self.tls: Optional[TlsFiles] = (TlsFiles(settings.tls_cert, settings.tls_key)
                                            if settings.tls_cert and settings.tls_key else None)
        except OSError as error:
            raise SystemExit(f"cannot read a key or TLS file: {error.strerror}: {error.filename}") from None
        except TlsError as error:
            raise SystemExit(f"--tls-cert / --tls-key: {error}") from None
        if (settings.tls or settings.require_auth) and not self.keys.configured:
            raise SystemExit("authentication is on (TLS or --require-auth) but no key is configured: "
                             "give --primary-key-file or FPGASCORE_PRIMARY_KEY")
        if self.keys.configured and not (settings.tls or settings.require_auth):
            log("warning", message="keys are configured but neither TLS nor --require-auth is on: "
                                   "calls are NOT authenticated")
        model = models.null() if settings.null_model else models.emulated()
        self.kernels = model.kernels
        self.score_cache = ScoreCache(settings.score_cache_entries, settings.score_cache_bytes)
        self.cpu = CpuSlots(settings.cpu_slots or default_slots())
        self.pool = FpgaPool(model.featurize, settings.fpgas, settings.queue_depth,
                             settings.service_time_ms / 1000.0, cpu=self.cpu)
        self.health = HealthServicer()
        # Admitted calls hold a thread while their images wait; the rest answer at once.
        workers = settings.queue_depth + settings.fpgas + 16
        self.metrics = Metrics(self.pool.waiting, settings.queue_depth,
                               lambda: predictions.decode_pixels_in_use(), self.health.serving, self.score_cache)
        predictions = PredictionServicer(settings, self.pool, model, self.score_cache, self.cpu)
        self._call_log = CallLogInterceptor(self.metrics, rate_limit_logs=not settings.conformance)
        self._admission = AdmissionInterceptor(settings.request_wait_seconds, settings.max_concurrent_rpcs,
                                               self.pool.drain_estimate_ms, rate_limit_logs=not settings.conformance)
        interceptors = self._interceptors(settings)
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
            interceptors=interceptors,
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs * GRPC_LIMIT_FACTOR,
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                ("grpc.max_metadata_size", 16 * 1024),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_MIN_PING_INTERVAL_MS),
                ("grpc.http2.max_ping_strikes", 3),
                ("grpc.so_reuseport", 0),
            ] + ([("grpc.max_connection_idle_ms", round(settings.max_connection_idle_seconds * 1000))]
                 if settings.max_connection_idle_seconds else []))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(predictions, self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(predictions.servable), self._server)
        health_service_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        address = f"{settings.host}:{settings.port}"
        if self.tls:
            self.port = self._server.add_secure_port(address, self.tls.credentials())
        else:
            self.port = self._server.add_insecure_port(address)
        if not self.port:
            raise SystemExit(f"cannot listen on {address}")
        self._health_server = None
        if settings.health_port:
            # Every watcher holds a thread: keep two beyond the most watchers there can be, so
            # that Check (the container's health check) is answered whatever watchers do.
            self._health_server = grpc.server(
                ThreadPoolExecutor(max_workers=MAX_WATCHERS + 2, thread_name_prefix="health"),
                interceptors=interceptors, maximum_concurrent_rpcs=MAX_WATCHERS + 8)
            health_service_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
            if not self._health_server.add_insecure_port(f"127.0.0.1:{settings.health_port}"):
                raise SystemExit(f"cannot listen on 127.0.0.1:{settings.health_port}")
        self.metrics_port = 0

    def _interceptors(self, settings: Settings) -> List[grpc.ServerInterceptor]:
        """Outermost first: request id, log line and metrics; the conformance controls read
        (and the attempt counted) before the key is checked; the key at the headers; an
        admission slot and the request message; then the controls obeyed."""
        chain: List[grpc.ServerInterceptor] = [self._call_log]
        if settings.conformance:
            chain.append(ControlsReader())
        if settings.tls or settings.require_auth:
            chain.append(AuthInterceptor(self.keys.accepts))
        chain.append(self._admission)
        if settings.conformance:
            chain.append(FaultInjector())
        return chain

    def _serve_metrics(self) -> None:
        if not self.settings.metrics_port:
            return
        try:
            self.metrics_port = self.metrics.serve(self.settings.metrics_host, self.settings.metrics_port)
        except OSError as error:
            self._server.stop(0)
            raise SystemExit(f"cannot listen on {self.settings.metrics_host}:{self.settings.metrics_port} "
                             f"(--metrics-port): {error.strerror}") from None

    def start(self) -> None:
        self._server.start()
        if self._health_server:
            self._health_server.start()
        self._serve_metrics()
        log("listening", host=self.settings.host, port=self.port, tls=bool(self.tls),
            auth=bool(self.tls) or self.settings.require_auth, fpgas=self.settings.fpgas,
            queue_depth=self.settings.queue_depth, service_time_ms=self.settings.service_time_ms,
            conformance=self.settings.conformance, null_model=self.settings.null_model,
            model=self.settings.model_name, model_version=self.settings.model_version,
            response_encoding=self.settings.response_encoding, metrics_port=self.metrics_port,
            score_cache_entries=self.score_cache.max_entries if self.score_cache.enabled else 0,
            cpu_slots=self.cpu.slots, kernels=self.kernels,
            metrics_host=self.settings.metrics_host if self.metrics_port else None)
        if self.settings.port_file:
            temporary = self.settings.port_file + ".tmp"
            with open(temporary, "w") as handle:
                handle.write(f"{self.port}\n")
            os.replace(temporary, self.settings.port_file)

    def reload(self) -> None:
        """Re-reads the keys and the TLS certificate and key."""
        try:
            self.keys.reload()
        except OSError as error:
            log("keys.reload_failed", error=f"{error.strerror}: {error.filename}", kept="the keys in use")
        if self.tls:
            try:
                self.tls.reload()
            except (OSError, TlsError) as error:
                reason = f"{error.strerror}: {error.filename}" if isinstance(error, OSError) else str(error)
                log("tls.reload_failed", cert=self.settings.tls_cert, error=reason,
                    kept="the certificate and key in use")

    def stop(self, grace: Optional[float] = None) -> None:
        """Refuses new calls, lets in-flight calls finish (up to the grace period), stops."""
        self.health.set_serving(False)
        grace = self.settings.grace_seconds if grace is None else grace
        log("stopping", grace_seconds=grace)
        self._server.stop(grace).wait()
        if self._health_server:
            self._health_server.stop(0).wait()
        self.pool.close()
        self._admission.close()
        self.metrics.close()
        self._call_log.flush()
        log("stopped")


def serve(settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT; SIGHUP reloads keys and certificate."""
    if not memory.return_large_buffers():
        log("warning", message="not glibc: freed decode buffers may stay in the process's RSS")
    server = EmulatorServer(settings)
    stop_requested = threading.Event()
    reload_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    signal.signal(signal.SIGHUP, lambda *_: reload_requested.set())
    server.start()
    while not stop_requested.is_set():
        if reload_requested.wait(timeout=0.2):
            reload_requested.clear()
            server.reload()
    server.stop()
