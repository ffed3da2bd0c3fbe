"""A service's replicas as GetService reports them: each running server's Prometheus
/metrics (``fpgascore_emulator.metrics``), read when asked and summed up.

Counts and latencies are the server process's lifetime totals (what its counters hold; a
restart starts them again); the manager keeps no history. p50/p99 are estimated from the
latency histogram of Predict as Prometheus's ``histogram_quantile`` does (linear within the
bucket the quantile falls in; the highest finite bound when it falls in +Inf).
"""
from __future__ import annotations

import dataclasses
import math
import time
import urllib.error
import urllib.request
from typing import Dict, List, Optional, Tuple

from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_SECONDS = 2.0
MAX_SCRAPE_BYTES = 1 << 20
SERVING, NOT_SERVING, UNKNOWN = "SERVING", "NOT_SERVING", "UNKNOWN"


@dataclasses.dataclass
class ReplicaStatus:
    index: int
    health: str
    health_message: str = ""
    calls_by_code: Dict[str, int] = dataclasses.field(default_factory=dict)
    images_scored: int = 0
    queue_in_use: int = 0
    queue_capacity: int = 0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    observed_at: float = 0.0
    # Predict's latency histogram, cumulative (upper bound in seconds, count), sorted by bound:
    # the dashboard's recent latencies are quantiles of the difference of two readings.
    predict_buckets: List[Tuple[float, float]] = dataclasses.field(default_factory=list, repr=False)


def scrape(address: Optional[Tuple[str, int]], index: int = 0, alive: bool = True) -> ReplicaStatus:
    """The status of the server whose /metrics is at ``address`` (None: it has none)."""
    now = time.time()
    if not alive:
        return ReplicaStatus(index, NOT_SERVING, "the server is not running", observed_at=now)
    if address is None:
        return ReplicaStatus(index, UNKNOWN, "the server has no metrics endpoint (the container runtime does not "
                                             "publish one yet, or the server was started before it had one)",
                             observed_at=now)
    host, port = address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=SCRAPE_TIMEOUT_SECONDS) as answer:
            text = answer.read(MAX_SCRAPE_BYTES).decode("utf-8", errors="replace")
    except (OSError, urllib.error.URLError) as error:
        return ReplicaStatus(index, UNKNOWN, f"cannot read the server's metrics: {error}", observed_at=now)
    try:
        return parse(text, index, now)
    except ValueError as error:
        return ReplicaStatus(index, UNKNOWN, f"the server's metrics do not parse: {error}", observed_at=now)


def parse(text: str, index: int = 0, observed_at: float = 0.0) -> ReplicaStatus:
    status = ReplicaStatus(index, UNKNOWN, observed_at=observed_at)
    buckets: List[Tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "fpgascore_calls_total" and value > 0:
                code = labels.get("code", "UNKNOWN")
                status.calls_by_code[code] = status.calls_by_code.get(code, 0) + int(value)
            elif name == "fpgascore_images_scored_total":
                status.images_scored = int(value)
            elif name == "fpgascore_fpga_queue_in_use":
                status.queue_in_use = int(value)
            elif name == "fpgascore_fpga_queue_capacity":
                status.queue_capacity = int(value)
            elif name == "fpgascore_serving":
                status.health = SERVING if value >= 1 else NOT_SERVING
            elif name == "fpgascore_call_latency_seconds_bucket" and labels.get("method") == "predict":
                buckets.append((float(labels["le"]), value))
    buckets.sort()
    status.predict_buckets = buckets
    status.latency_p50_ms = quantile(0.5, buckets) * 1000
    status.latency_p99_ms = quantile(0.99, buckets) * 1000
    return status


def quantile(q: float, buckets: List[Tuple[float, float]]) -> float:
    """histogram_quantile over cumulative (upper bound, count) pairs sorted by bound."""
    if not buckets or buckets[-1][1] <= 0:
        return 0.0
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
