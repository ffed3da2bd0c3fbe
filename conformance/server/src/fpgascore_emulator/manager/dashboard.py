"""The manager's dashboard (``manage --dashboard-port N``): one self-contained HTML page (inline
script and SVG, no external resource) that polls ``/api/services``: every service, its state,
replicas and traffic, and a plot of its Predict latency (p50, p99) and call rate over the last
minutes.

* **Samples.** A sampler thread reads each RUNNING service's /metrics (``replicas.scrape``,
  through ``Manager.replicas``) every ``interval`` seconds and keeps a ring of samples per
  service (``window`` seconds; in memory only: a restarted manager starts empty). A sample's
  latencies are the quantiles of the calls made since the previous reading (the difference of
  two readings of the server's histogram), its rate those calls per second; a server that
  restarted (its counters went down) is read from zero.
* **No key material.** Neither the page nor the JSON holds a key, a certificate or a private
  key: a service with SSL shows ``keys: set``, and its certificate's SHA-256 fingerprint.
* **Protected like the API.** It binds 127.0.0.1 unless told otherwise. The page itself holds
  no data; ``/api/services`` needs the admin token (``Authorization: Bearer <token>``, compared
  in constant time; 401 otherwise), which the page takes from a login form or from the
  address's fragment (``http://127.0.0.1:PORT/#token=…``: a fragment is never sent to a
  server nor in a Referer) and keeps in the tab's sessionStorage, removing it from the address
  bar. Requests whose Host is a DNS name other than localhost are refused (DNS
  rebinding); the answers carry a Content-Security-Policy that allows only the page's own
  inline script and style (by hash) and fetches to itself, and ``Cache-Control: no-store``.
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import hashlib
import hmac
import http.server
import ipaddress
import json
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Tuple

from ..logs import log
from ..security import presented_key
from . import replicas as replica_status
from .manager import Manager
from .store import RUNNING, ServiceRecord
from .validation import certificate_info

DEFAULT_INTERVAL = 5.0
DEFAULT_WINDOW = 600.0


@dataclasses.dataclass
class Sample:
    t: float
    calls_per_s: float
    p50_ms: Optional[float]   # None: no Predict call since the previous sample
    p99_ms: Optional[float]
    calls: int                # Predict calls since the previous sample


@dataclasses.dataclass
class _Ring:
    samples: Deque[Sample]
    previous: Optional[Tuple[float, List[Tuple[float, float]]]] = None  # (time, buckets) last read
    replicas: List[replica_status.ReplicaStatus] = dataclasses.field(default_factory=list)


def _delta(now: List[Tuple[float, float]], before: List[Tuple[float, float]]) -> List[Tuple[float, float]]:
    """now - before, bucket by bucket (before empty, or counters that went down: now itself)."""
    earlier = dict(before)
    if not before or any(count < earlier.get(bound, 0.0) for bound, count in now):
        return list(now)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in now]


class Sampler:
    """Reads every running service's metrics each ``interval`` s into a ring per service."""

    def __init__(self, manager: Manager, interval: float = DEFAULT_INTERVAL, window: float = DEFAULT_WINDOW) -> None:
        self._manager = manager
        self.interval = interval
        self.window = window
        self._size = max(2, int(window / interval) + 1)
        self._rings: Dict[str, _Ring] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dashboard-sampler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as error:  # the sampler must go on
                log("dashboard.sample_failed", error=f"{type(error).__name__}: {error}")
            self._stop.wait(self.interval)

    def sample(self) -> None:
        records = self._manager.services()
        readings = {record.id: self._manager.replicas(record) for record in records if record.state == RUNNING}
        now = time.time()
        with self._lock:
            for gone in set(self._rings) - {record.id for record in records}:
                del self._rings[gone]
            for service_id, statuses in readings.items():
                ring = self._rings.setdefault(service_id, _Ring(collections.deque(maxlen=self._size)))
                ring.replicas = statuses
                buckets = self._summed(statuses)
                if buckets is None:
                    continue
                delta = _delta(buckets, ring.previous[1] if ring.previous else [])
                since = now - ring.previous[0] if ring.previous else self.interval
                calls = int(delta[-1][1]) if delta else 0
                p50 = replica_status.quantile(0.5, delta) * 1000 if calls else None
                p99 = replica_status.quantile(0.99, delta) * 1000 if calls else None
                ring.samples.append(Sample(now, calls / max(since, 1e-3), p50, p99, calls))
                ring.previous = (now, buckets)

    @staticmethod
    def _summed(statuses: List[replica_status.ReplicaStatus]) -> Optional[List[Tuple[float, float]]]:
        """The replicas' Predict histograms added up; None when none could be read."""
        total: Dict[float, float] = {}
        read = False
        for status in statuses:
            if status.health == replica_status.UNKNOWN:
                continue
            read = True
            for bound, count in status.predict_buckets:
                total[bound] = total.get(bound, 0.0) + count
        return sorted(total.items()) if read else None

    def view(self, service_id: str) -> Tuple[List[Sample], List[replica_status.ReplicaStatus]]:
        with self._lock:
            ring = self._rings.get(service_id)
            return (list(ring.samples), list(ring.replicas)) if ring else ([], [])


def service_view(record: ServiceRecord, samples: List[Sample],
                 statuses: List[replica_status.ReplicaStatus]) -> Dict[str, Any]:
    """What the dashboard shows of a service: never a key, a certificate or a private key."""
    calls_by_code: Dict[str, int] = {}
    for status in statuses:
        for code, count in status.calls_by_code.items():
            calls_by_code[code] = calls_by_code.get(code, 0) + count
    view: Dict[str, Any] = {
        "id": record.id, "name": record.name, "model_id": record.model_id, "state": record.state,
        "state_message": record.state_message, "address": f"{record.host}:{record.port}",
        "runtime": record.runtime, "ssl_enabled": record.ssl_enabled,
        "keys": "set" if record.ssl_enabled and record.primary_key else "not set",
        "certificate_sha256": certificate_info(record.certificate_pem).sha256 if record.certificate_pem else "",
        "num_replicas": record.num_replicas,
        "replicas": [{"index": status.index, "health": status.health, "health_message": status.health_message,
                      "images_scored": status.images_scored, "queue_in_use": status.queue_in_use,
                      "queue_capacity": status.queue_capacity, "latency_p50_ms": round(status.latency_p50_ms, 3),
                      "latency_p99_ms": round(status.latency_p99_ms, 3)} for status in statuses],
        "traffic": {"calls_by_code": calls_by_code, "calls_total": sum(calls_by_code.values()),
                    "images_scored": sum(status.images_scored for status in statuses)},
        "samples": [{"t": round(sample.t, 3), "calls_per_s": round(sample.calls_per_s, 3), "calls": sample.calls,
                     "p50_ms": None if sample.p50_ms is None else round(sample.p50_ms, 3),
                     "p99_ms": None if sample.p99_ms is None else round(sample.p99_ms, 3)} for sample in samples],
    }
    return view


STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#1b1f24;background:#f6f8fa}
h1{font-size:20px;margin:0 0 4px}.muted{color:#57606a}.card{background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:14px 16px;margin:12px 0}.row{display:flex;gap:24px;flex-wrap:wrap}
.state{font-weight:600;padding:1px 8px;border-radius:10px;background:#ddf4ff}.state.RUNNING{background:#dafbe1}
.state.FAILED{background:#ffebe9}.state.CREATING,.state.DELETING{background:#fff8c5}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left}svg{background:#fff}
.p50{stroke:#0969da;fill:none;stroke-width:2}.p99{stroke:#cf222e;fill:none;stroke-width:2}
.rate{fill:#8c959f;opacity:.35}.dot.p50{fill:#0969da}.dot.p99{fill:#cf222e}.axis{stroke:#d0d7de}.label{font-size:11px;fill:#57606a}
.hidden{display:none}input{font:inherit;padding:4px;width:28em}button{font:inherit}
"""

SCRIPT = r"""
"use strict";
const TOKEN_KEY = "fpgascore-dashboard-token";
const SVG = "http://www.w3.org/2000/svg";
function takeToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}
function plot(service, windowSeconds, now) {
  const W = 640, H = 160, L = 44, B = 18;
  const svg = svgEl("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, "class": "plot",
                            "data-service": service.name});
  svg.appendChild(svgEl("line", {x1: L, y1: H - B, x2: W, y2: H - B, "class": "axis"}));
  svg.appendChild(svgEl("line", {x1: L, y1: 0, x2: L, y2: H - B, "class": "axis"}));
  const samples = service.samples;
  // The x axis spans the samples kept (at least a minute, at most the window).
  const oldest = samples.length ? samples[0].t : now;
  const span = Math.min(windowSeconds, Math.max(60, now - oldest));
  const withLatency = samples.filter(s => s.p99_ms !== null);
  const top = Math.max(1, ...withLatency.map(s => s.p99_ms)) * 1.1;
  const rateTop = Math.max(1, ...samples.map(s => s.calls_per_s));
  const x = t => L + (W - L - 8) * (1 - (now - t) / span);
  const y = v => (H - B) * (1 - v / top);
  for (const s of samples) {
    if (s.calls_per_s <= 0) continue;
    const h = (H - B) * 0.5 * s.calls_per_s / rateTop;
    svg.appendChild(svgEl("rect", {x: x(s.t) - 2, y: H - B - h, width: 4, height: h, "class": "rate"}));
  }
  for (const [field, cls] of [["p50_ms", "p50"], ["p99_ms", "p99"]]) {
    const points = withLatency.map(s => `${x(s.t).toFixed(1)},${y(s[field]).toFixed(1)}`);
    if (points.length) svg.appendChild(svgEl("path", {d: "M" + points.join(" L"), "class": cls,
                                                      "data-points": points.length}));
    for (const s of withLatency) svg.appendChild(svgEl("circle", {cx: x(s.t).toFixed(1), cy: y(s[field]).toFixed(1),
                                                                  r: 2.5, "class": cls + " dot"}));
  }
  const label = (text, lx, ly) => { const t = svgEl("text", {x: lx, y: ly, "class": "label"}); t.textContent = text;
                                    svg.appendChild(t); };
  label(`${top.toFixed(1)} ms`, 2, 12);
  label("0", 30, H - B);
  label(span >= 120 ? `-${Math.round(span / 60)} min` : `-${Math.round(span)} s`, L, H - 4);
  label("now", W - 30, H - 4);
  if (!withLatency.length) label("no Predict call in this window", L + 12, (H - B) / 2);
  return svg;
}
function render(data) {
  const root = document.getElementById("services");
  root.replaceChildren();
  document.getElementById("updated").textContent =
    `${data.services.length} service(s); updated ${new Date(data.generated_at * 1000).toLocaleTimeString()}; ` +
    `a sample every ${data.interval} s over ${Math.round(data.window_seconds / 60)} min`;
  if (!data.services.length) root.appendChild(el("p", "No service yet.", "muted"));
  for (const s of data.services) {
    const card = el("section", null, "card service");
    card.dataset.service = s.name;
    const head = el("h2");
    head.appendChild(el("span", s.name, "name"));
    head.appendChild(document.createTextNode(" "));
    head.appendChild(el("span", s.state, "state " + s.state));
    card.appendChild(head);
    if (s.state_message) card.appendChild(el("p", s.state_message, "muted"));
    const facts = el("table");
    const rows = [["model", s.model_id], ["address", s.address + (s.ssl_enabled ? " (TLS)" : " (plaintext)")],
                  ["runtime", s.runtime], ["replicas", `${s.replicas.length} of ${s.num_replicas}`],
                  ["keys", s.keys], ["calls", Object.entries(s.traffic.calls_by_code).map(([c, n]) => `${c} ${n}`)
                                                 .join(", ") || "none"],
                  ["images scored", s.traffic.images_scored]];
    if (s.certificate_sha256) rows.push(["certificate sha256", s.certificate_sha256.slice(0, 16) + "…"]);
    for (const r of s.replicas) rows.push([`replica ${r.index}`, `${r.health} · queue ${r.queue_in_use}/` +
        `${r.queue_capacity} · p50 ${r.latency_p50_ms} ms · p99 ${r.latency_p99_ms} ms` +
        (r.health_message ? ` · ${r.health_message}` : "")]);
    for (const [k, v] of rows) {
      const tr = el("tr"); tr.appendChild(el("th", k)); const td = el("td", v); td.dataset.field = k;
      tr.appendChild(td); facts.appendChild(tr);
    }
    const row = el("div", null, "row");
    row.appendChild(facts);
    const figure = el("div");
    figure.appendChild(el("div", "Predict latency (blue p50, red p99) and calls/s (bars)", "muted"));
    figure.appendChild(plot(s, data.window_seconds, data.generated_at));
    row.appendChild(figure);
    card.appendChild(row);
    root.appendChild(card);
  }
}
async function poll() {
  const token = takeToken();
  document.getElementById("login").classList.toggle("hidden", !!token);
  if (!token) return;
  try {
    const answer = await fetch("api/services", {headers: {"Authorization": "Bearer " + token}, cache: "no-store"});
    if (answer.status === 401) { sessionStorage.removeItem(TOKEN_KEY); document.getElementById("error").textContent =
      "The admin token was refused."; document.getElementById("login").classList.remove("hidden"); return; }
    document.getElementById("error").textContent = "";
    render(await answer.json());
  } catch (error) {
    document.getElementById("error").textContent = "The manager does not answer: " + error;
  }
}
document.getElementById("login").addEventListener("submit", event => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  document.getElementById("token").value = "";
  poll();
});
poll();
setInterval(poll, 2000);
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fpgascore manager</title>
<meta name="referrer" content="no-referrer"><style>{STYLE}</style></head>
<body><h1>fpgascore manager</h1><div id="updated" class="muted">loading…</div>
<div id="error" class="muted"></div>
<form id="login" class="card hidden"><label>Admin token <input id="token" type="password" autocomplete="off"></label>
<button type="submit">Show services</button></form>
<main id="services"></main>
<script>{SCRIPT}</script></body></html>
"""

SECURITY_HEADERS = {
    "Content-Security-Policy": (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
                                f"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
                                f"frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]"}


class Dashboard:
    """The HTTP server and its sampler; ``start()`` returns the bound port."""

    def __init__(self, manager: Manager, token: str, host: str = "127.0.0.1", port: int = 0,
                 interval: float = DEFAULT_INTERVAL, window: float = DEFAULT_WINDOW) -> None:
        self._manager = manager
        self._token = token.encode()
        self.sampler = Sampler(manager, interval, window)
        self._host = host
        dashboard = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "fpgascore-manager"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
                pass  # no access log: nothing here is worth a line, and a line could hold a header

            def do_GET(self) -> None:  # noqa: N802 - the base's name
                dashboard.handle(self)

            def do_HEAD(self) -> None:  # noqa: N802
                dashboard.handle(self)

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread: Optional[threading.Thread] = None

    def start(self) -> int:
        self.sampler.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard", daemon=True)
        self._thread.start()
        log("dashboard.listening", host=self._host, port=self.port, interval=self.sampler.interval)
        return self.port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.sampler.close()

    def accepts(self, authorization: Optional[str]) -> bool:
        presented = presented_key(authorization)
        return presented is not None and hmac.compare_digest(presented, self._token)

    def _host_allowed(self, host_header: Optional[str]) -> bool:
        """A loopback name or an IP address: a DNS name (which could be rebound to 127.0.0.1 by
        a web page's attacker) is refused."""
        if not host_header:
            return False
        name = host_header if host_header.endswith("]") else host_header.rsplit(":", 1)[0]
        if name in LOOPBACK_NAMES or name == self._host:
            return True
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return False
        return True

    def snapshot(self) -> Dict[str, Any]:
        services = []
        for record in self._manager.services():
            samples, statuses = self.sampler.view(record.id)
            services.append(service_view(record, samples, statuses if record.state == RUNNING else []))
        return {"generated_at": time.time(), "interval": self.sampler.interval,
                "window_seconds": self.sampler.window, "services": services}

    def handle(self, request: http.server.BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if not self._host_allowed(request.headers.get("Host")):
            self._answer(request, 421, "text/plain; charset=utf-8", b"this dashboard answers on its own address only\n")
        elif path in ("/", "/index.html"):
            self._answer(request, 200, "text/html; charset=utf-8", PAGE.encode())
        elif path == "/api/services":
            if not self.accepts(request.headers.get("Authorization")):
                refusal = b'{"error": "the admin token is needed: Authorization: Bearer <token>"}\n'
                self._answer(request, 401, "application/json", refusal,
                             {"WWW-Authenticate": 'Bearer realm="fpgascore-manager"'})
                return
            body = json.dumps(self.snapshot()).encode()
            self._answer(request, 200, "application/json", body)
        else:
            self._answer(request, 404, "text/plain; charset=utf-8", b"not found\n")

    @staticmethod
    def _answer(request: http.server.BaseHTTPRequestHandler, status: int, content_type: str, body: bytes,
                extra: Optional[Dict[str, str]] = None) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            request.send_header(name, value)
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
