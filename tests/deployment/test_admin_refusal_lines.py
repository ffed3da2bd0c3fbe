"""What anyone who reaches the manager's port can make it log is bounded: the method path a
peer sends is shortened, and the refusal lines are rate-limited (the rest counted)."""
import io
import json
import types

from fpgascore_emulator import logs
from fpgascore_emulator.manager.service import AdminTokenInterceptor


def test_refused_calls_cost_bounded_log_lines(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(logs, "_stream", stream)
    interceptor = AdminTokenInterceptor("the-admin-token-0123456789")
    call = types.SimpleNamespace(method="/" + "x" * 100_000, invocation_metadata=(("authorization", "wrong"),))
    for _ in range(300):
        interceptor.intercept_service(lambda details: None, call)
    interceptor._refusal_lines.flush()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    refused = [r for r in records if r["event"] == "manager.unauthenticated"]
    suppressed = sum(r["lines"] for r in records if r["event"] == "log.suppressed")
    assert len(refused) < 100 and len(refused) + suppressed == 300
    assert max(len(r["method"]) for r in refused) < 300
