"""The manager's dashboard (``manage --dashboard-port``), rendered by headless Chromium: the
services, their state, replicas, traffic and a latency plot, never a key; its data only with
the admin token. The test leaves a screenshot (its path is printed): out/test-artifacts/
dashboard.png, or $FPGASCORE_TEST_ARTIFACTS/dashboard.png."""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from fpgascore import PredictionClient, RetryPolicy

from .managers import IMAGES, ROOT, wait_until

IMAGE = (IMAGES / "gradient.jpg").read_bytes()
ARTIFACTS = pathlib.Path(os.environ.get("FPGASCORE_TEST_ARTIFACTS", ROOT / "out" / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def get(url: str, token: str = "", host: str = "") -> tuple:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def chromium(url: str, profile: pathlib.Path, *extra: str) -> str:
    if CHROMIUM is None:
        pytest.fail("the dashboard test needs Chromium (scripts/setup.sh installs Debian's chromium)")
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,800",
                          "--virtual-time-budget=5000", *extra, url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_the_dashboard_shows_the_services_and_no_key(make_manager, tls, tmp_path):
    port_file = tmp_path / "dashboard.port"
    manager = make_manager(extra_args=["--dashboard-port", "0", "--dashboard-port-file", str(port_file),
                                       "--dashboard-interval", "0.5"])
    base = f"http://127.0.0.1:{int(port_file.read_text())}"
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service("watched", "resnet50", ssl_enabled=True,
                                             ssl_certificate=tls.server.cert, ssl_key=tls.server.key)
        idle = deployments.create_service("idle", "resnet50")

    def sampled(calls: int) -> dict:
        """The dashboard's data once its samples of 'watched' count ``calls`` Predict calls."""
        status, body, _ = get(f"{base}/api/services", token=manager.token)
        assert status == 200, body
        document = json.loads(body)
        [watched] = [entry for entry in document["services"] if entry["name"] == "watched"]
        return document if sum(sample["calls"] for sample in watched["samples"]) >= calls else {}

    secrets_shown = [service.primary_key, service.secondary_key, manager.token, "PRIVATE KEY", "BEGIN CERTIFICATE"]
    # Three rounds of two calls, each round seen by the dashboard before the next: three
    # samples (at least) with calls, three points (at least) on each latency curve.
    with PredictionClient(service.ip_address, service.port, use_ssl=True, access_token=service.primary_key,
                          root_certificates=tls.ca, retry_policy=RetryPolicy.disabled(), timeout=30) as client:
        for round_ in range(1, 4):
            for _ in range(2):
                assert client.score_image(IMAGE).shape == (1000,)
            wait_until(lambda: sampled(2 * round_), timeout=60, what=f"the dashboard to sample {2 * round_} calls")

    # The data: only with the admin token, from the dashboard's own address.
    assert get(f"{base}/api/services")[0] == 401
    assert get(f"{base}/api/services", token="x" * 24)[0] == 401
    assert get(f"{base}/api/services", token=manager.token, host="attacker.example")[0] == 421

    document = sampled(6)
    assert document, "the dashboard lost samples"
    text = json.dumps(document)
    for secret in secrets_shown:
        assert secret not in text
    watched = {entry["name"]: entry for entry in document["services"]}["watched"]
    assert watched["state"] == "RUNNING" and watched["keys"] == "set" and watched["num_replicas"] == 1
    assert watched["traffic"]["calls_by_code"].get("OK") == 6 and watched["traffic"]["images_scored"] == 6
    assert [replica["health"] for replica in watched["replicas"]] == ["SERVING"]
    assert len([sample for sample in watched["samples"] if sample["p99_ms"]]) >= 3  # a round may span two
    assert {entry["name"]: entry for entry in document["services"]}["idle"]["keys"] == "not set"

    status, page, headers = get(f"{base}/")
    assert status == 200 and "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # self-contained: nothing from elsewhere
    assert "watched" not in page  # the page holds no data: the script fetches it with the token

    # Rendered: without the token only the login form; with it the services and the plot.
    locked = chromium(base + "/", tmp_path / "profile-locked", "--dump-dom")
    assert 'id="login" class="card"' in locked and "watched" not in locked
    dom = chromium(f"{base}/#token={manager.token}", tmp_path / "profile", "--dump-dom")
    for secret in secrets_shown:
        assert secret not in dom
    card = re.search(r'<section class="card service" data-service="watched">(.*?)</section>', dom, re.S)
    assert card, dom[-3000:]
    card_html = card.group(1)
    assert '<span class="state RUNNING">RUNNING</span>' in card_html
    assert '<td data-field="replicas">1 of 1</td>' in card_html
    assert '<td data-field="keys">set</td>' in card_html and "OK 6" in card_html
    paths = dict((kind, (d, int(count))) for d, kind, count in
                 re.findall(r'<path d="M([^"]+)" class="(p50|p99)" data-points="(\d+)"', card_html))
    assert set(paths) == {"p50", "p99"}, card_html[-2000:]
    for d, count in paths.values():
        assert count >= 3 and len(d.split(" L")) == count, d
    assert idle.name in dom and 'data-service="idle"' in dom

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    chromium(f"{base}/#token={manager.token}", tmp_path / "profile-shot", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000 and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"dashboard screenshot: {screenshot}")
