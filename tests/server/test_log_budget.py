"""Lines a peer can cause at will (refused keyless calls) are rate-limited: a flood costs a
bounded number of log lines, and what was left out is counted, not lost."""
import json
import time

from fpgascore_conformance.emulator import EmulatorProcess, ServerConfig

from . import rpc

CALLS = 400
BURST, PER_SECOND = 50, 10.0  # logs.LineBudget's defaults


def test_a_flood_of_keyless_calls_costs_a_bounded_number_of_log_lines():
    server = EmulatorProcess(ServerConfig(require_auth=True, primary_key="the-key", conformance=False))
    server.start()
    try:
        caller = rpc.plaintext(server.target)
        started = time.monotonic()
        for _ in range(CALLS):
            caller.error(rpc.image_request([rpc.image("tiny-noise.png")]))
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    records = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    refused = [r for r in records if r["event"] == "predict" and r["code"] == "UNAUTHENTICATED"]
    suppressed = sum(r["lines"] for r in records if r["event"] == "log.suppressed" and r["kind"] == "unauthenticated")
    assert len(refused) <= BURST + PER_SECOND * elapsed + 1, (len(refused), elapsed)
    assert len(refused) + suppressed == CALLS


def test_in_conformance_mode_every_line_is_kept():
    server = EmulatorProcess(ServerConfig(require_auth=True, primary_key="the-key", conformance=True))
    server.start()
    try:
        caller = rpc.plaintext(server.target)
        for _ in range(BURST + 20):
            caller.error(rpc.image_request([rpc.image("tiny-noise.png")]))
    finally:
        server.stop()
    assert server.logs().count('"code":"UNAUTHENTICATED"') == BURST + 20
    assert "log.suppressed" not in server.logs()
