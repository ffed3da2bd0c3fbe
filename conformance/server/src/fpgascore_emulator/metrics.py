"""The server's Prometheus metrics (``--metrics-port``): one job, counting what the server
already logs. Every call's end goes through ``record`` (from where its log line is written);
the gauges read the FPGA queue, the decode budget and the health state when scraped.

Label values are bounded enums only: ``method`` is one of ``METHODS`` (anything else, a path a
peer made up included, is ``other``) and ``code`` a grpc.StatusCode name. Nothing a peer sends
becomes a label value, so no peer can grow the number of series.

The registry is the server's own (not prometheus_client's global one): two servers in one
process (the tests) keep their counts apart.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, Optional
from wsgiref.simple_server import WSGIRequestHandler, make_server

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from . import events
from .score_cache import ScoreCache

# The log events of the calls the server answers; the method label takes these values only.
METHODS = (*events.BY_METHOD.values(), "other")
CODES = tuple(code.name for code in grpc.StatusCode)
# 1 ms .. 10 s (a refusal takes well under 1 ms; a call at the deadline's end up to 10 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def method_label(event: str) -> str:
    return event if event in METHODS else "other"


def code_label(code: grpc.StatusCode) -> str:
    name: str = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    return name


class Metrics:
    def __init__(self, queue_in_use: Callable[[], int], queue_capacity: int, decode_pixels_in_use: Callable[[], int],
                 serving: Callable[[], bool], score_cache: Optional[ScoreCache] = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._calls = Counter("fpgascore_calls", "Calls answered, by method and final gRPC code.",
                              ("method", "code"), registry=self.registry)
        self._latency = Histogram("fpgascore_call_latency_seconds",
                                  "Time from a call's start in the handler to its answer, by method.",
                                  ("method",), buckets=LATENCY_BUCKETS, registry=self.registry)
        self._images = Counter("fpgascore_images_scored", "Images scored (in Predict calls that ended OK).",
                               registry=self.registry)
        Gauge("fpgascore_fpga_queue_in_use", "FPGA queue places in use (reserved or holding an image).",
              registry=self.registry).set_function(queue_in_use)
        Gauge("fpgascore_fpga_queue_capacity", "FPGA queue places (--queue-depth).",
              registry=self.registry).set(queue_capacity)
        Gauge("fpgascore_decode_pixels_in_use", "Pixels decoding now, within the decode budget.",
              registry=self.registry).set_function(decode_pixels_in_use)
        Gauge("fpgascore_serving", "1 while the server takes calls, 0 while it drains.",
              registry=self.registry).set_function(lambda: 1.0 if serving() else 0.0)
        if score_cache is not None:
            self.registry.register(_ScoreCacheCollector(score_cache))
        # Every (method, code) series exists from the start (at 0): a scrape shows what can
        # appear, and a rate over a series that was just born is not lost.
        for method in METHODS:
            self._latency.labels(method)
            for code in CODES:
                self._calls.labels(method, code)
        self._http: Optional[ThreadingWSGIServer] = None

    def record(self, event: str, code: grpc.StatusCode, seconds: Optional[float], images: int = 0) -> None:
        """One call's end: its method (log event), final code, latency (None: not measured,
        e.g. a method the server does not have) and, for an OK Predict, its images."""
        method = method_label(event)
        self._calls.labels(method, code_label(code)).inc()
        if seconds is not None:
            self._latency.labels(method).observe(max(seconds, 0.0))
        if images > 0 and code is grpc.StatusCode.OK:
            self._images.inc(images)

    # -- the HTTP endpoint ------------------------------------------------------------------
    def serve(self, host: str, port: int) -> int:
        """Serves /metrics on ``host:port`` (a thread per scrape); returns the port."""
        self._http = make_server(host, port, make_wsgi_app(self.registry), ThreadingWSGIServer,
                                 handler_class=_QuietHandler)
        threading.Thread(target=self._http.serve_forever, name="metrics", daemon=True).start()
        return self._http.server_port

    def close(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


class _ScoreCacheCollector(Collector):
    """The score cache's own counts, read when scraped."""

    def __init__(self, cache: ScoreCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Any]:
        cache = self._cache
        yield CounterMetricFamily("fpgascore_score_cache_hits", "Images whose scores the score cache held.",
                                  value=cache.hits)
        yield CounterMetricFamily("fpgascore_score_cache_misses", "Images looked up in the score cache and not found.",
                                  value=cache.misses)
        yield GaugeMetricFamily("fpgascore_score_cache_entries", "Images whose scores the cache holds now "
                                f"(at most --score-cache-entries, {cache.max_entries}).", value=cache.entries)
        yield GaugeMetricFamily("fpgascore_score_cache_bytes", "Bytes the score cache holds now "
                                f"(at most --score-cache-bytes, {cache.max_bytes}).", value=cache.bytes)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes are not logged."""
