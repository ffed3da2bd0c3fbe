"""``service export --kubernetes``: a service as a Secret, a Deployment and a Service, checked
for their structure, then played with ``podman kube play`` (the Secret through its documented
ConfigMap substitute) and scored through the played pod."""
from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import urllib.request

import pytest
import yaml

from fpgascore import PredictionClient, RetryPolicy, ScoringError
from fpgascore_emulator.manager import kubernetes

from .managers import IMAGES, ROOT, wait_until

IMAGE = (IMAGES / "gradient.jpg").read_bytes()
HEALTHCHECK = ["python3", "-m", "fpgascore_emulator.healthcheck", "50052"]


def documents_by_kind(text: str) -> dict:
    documents = list(yaml.safe_load_all(text))
    by_kind = {document["kind"]: document for document in documents}
    assert len(by_kind) == len(documents), [document["kind"] for document in documents]
    return by_kind


def env_of(container: dict) -> dict:
    return {entry["name"]: entry["value"] for entry in container["env"]}


def cli(manager, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FPGASCORE_ADMIN_TOKEN=manager.token,
               PYTHONPATH=os.pathsep.join(str(ROOT / path) for path in ("python/src", "conformance/server/src")))
    return subprocess.run([sys.executable, "-m", "fpgascore", *args, "--manager", manager.address], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_export_is_a_secret_a_deployment_and_a_service(make_manager, tls, tmp_path):
    manager = make_manager()
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service("exported", "resnet50", ssl_enabled=True,
                                             ssl_certificate=tls.server.cert, ssl_key=tls.server.key)
        output = tmp_path / "exported.yaml"
        run = cli(manager, "service", "export", "--kubernetes", "exported", "-o", str(output))
        assert run.returncode == 0, run.stderr
        assert service.primary_key not in run.stdout + run.stderr  # the file has them, not the terminal
        assert stat.S_IMODE(output.stat().st_mode) == 0o600
        text = output.read_text()
        assert cli(manager, "service", "export", "--kubernetes", "exported").stdout == text  # stdout: the same

        found = documents_by_kind(text)
        assert set(found) == {"Secret", "Deployment", "Service"}
        secret = found["Secret"]
        assert secret["metadata"]["name"] == "exported-secrets" and secret["type"] == "Opaque"
        decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        assert decoded == {"tls.crt": tls.server.cert.read_text(), "tls.key": tls.server.key.read_text(),
                           "primary.key": service.primary_key, "secondary.key": service.secondary_key}
        rest = text.split("kind: \"Deployment\"", 1)[1]
        assert service.primary_key not in rest and service.secondary_key not in rest  # only in the Secret

        deployment = found["Deployment"]
        assert deployment["spec"]["replicas"] == service.num_replicas == 1
        assert deployment["metadata"]["annotations"]["fpgascore.io/service-id"] == service.id
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= \
            deployment["spec"]["template"]["metadata"]["labels"].items()
        [container] = pod["containers"]
        env = env_of(container)
        assert env["FPGASCORE_HEALTH_PORT"] == "50052" and env["FPGASCORE_PORT"] == "50051"
        assert env["FPGASCORE_MODEL_NAME"] == "resnet50" and env["FPGASCORE_MODEL_VERSION"] == "1"
        assert env["FPGASCORE_PRIMARY_KEY_FILE"] == "/run/fpgascore/secrets/primary.key"
        assert env["FPGASCORE_TLS_KEY"] == "/run/fpgascore/secrets/tls.key"
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"] == HEALTHCHECK, probe  # the health port, 50052
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"grpc": 50051, "metrics": 9090}
        mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
        assert mounts["secrets"]["mountPath"] == "/run/fpgascore/secrets" and mounts["secrets"]["readOnly"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "exported-secrets"
        assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"]

        cluster = found["Service"]
        assert cluster["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert {port["name"]: (port["port"], port["targetPort"]) for port in cluster["spec"]["ports"]} == {
            "grpc": (50051, "grpc"), "metrics": (9090, "metrics")}

        scaled = documents_by_kind(deployments.export_kubernetes(service, replicas=3, image="registry.example/x:1"))
        assert scaled["Deployment"]["spec"]["replicas"] == 3
        assert scaled["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/x:1"

        plain = deployments.create_service("plain", "resnet50")
        unsecured = documents_by_kind(deployments.export_kubernetes(plain))
        assert set(unsecured) == {"Deployment", "Service"}  # no SSL: no keys, no Secret
        [bare] = unsecured["Deployment"]["spec"]["template"]["spec"]["containers"]
        assert "FPGASCORE_TLS_CERT" not in env_of(bare) and "FPGASCORE_PRIMARY_KEY_FILE" not in env_of(bare)
        with pytest.raises(ScoringError):
            deployments.export_kubernetes("no-such-service")
    log = manager.logs()
    assert service.primary_key not in log and service.secondary_key not in log and "BEGIN" not in log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which("podman") is None:  # kube play is podman's: the engine's API has no equivalent
        pytest.fail("this test plays the manifests with podman's CLI (scripts/setup.sh installs podman)")
    run = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=300)
    if check and run.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {run.returncode}: {run.stderr[-2000:]}")
    return run


@pytest.mark.container
def test_podman_kube_play_runs_the_export_and_it_scores(make_manager, service_image, tls, tmp_path):
    manager = make_manager()
    name = f"kube-{secrets.token_hex(3)}"
    with manager.client() as deployments:
        deployments.register_model("resnet50")
        service = deployments.create_service(name, "resnet50", ssl_enabled=True,
                                             ssl_certificate=tls.server.cert, ssl_key=tls.server.key)
        text = deployments.export_kubernetes(service, image=service_image)
    grpc_port, metrics_port = free_port(), free_port()
    configmaps, workload = kubernetes.for_podman(list(yaml.safe_load_all(text)),
                                                 {"grpc": grpc_port, "metrics": metrics_port})
    configmap_file, workload_file = tmp_path / "secrets.yaml", tmp_path / "workload.yaml"
    configmap_file.write_text(kubernetes.to_yaml(configmaps))
    workload_file.write_text(kubernetes.to_yaml(workload))
    pod = f"{name}-pod-0"
    try:
        podman("kube", "play", "--configmap", str(configmap_file), str(workload_file))
        print(f"played pod {pod}: scoring on 127.0.0.1:{grpc_port}")

        def scores(key: str) -> bool:
            try:
                with PredictionClient("127.0.0.1", grpc_port, use_ssl=True, access_token=key,
                                      root_certificates=tls.ca, retry_policy=RetryPolicy.disabled(),
                                      timeout=30) as client:
                    return client.score_image(IMAGE).shape == (1000,)
            except ScoringError as error:
                if error.code is not None and error.code.name == "UNAUTHENTICATED":
                    raise
                return False

        assert wait_until(lambda: scores(service.primary_key), timeout=120, what="the played pod to score")
        assert scores(service.secondary_key)
        with pytest.raises(ScoringError) as refused:
            scores("not-" + service.primary_key)
        assert refused.value.code.name == "UNAUTHENTICATED"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
            metrics = answer.read().decode()
        assert 'fpgascore_calls_total{code="OK"' in metrics or 'code="OK"' in metrics
        # The liveness probe became the container's health check, with its timeout, and it
        # passes: within its failure threshold, as the kubelet judges it (a run on a machine
        # busy with other suites can take seconds).
        container = f"{pod}-server"
        assert podman("inspect", "--format", "{{.Config.Healthcheck.Timeout}}", container).stdout.strip() == \
            f"{kubernetes.PROBE_TIMEOUT}s"
        failures = []
        while len(failures) < 3:
            run = podman("healthcheck", "run", container, check=False)
            if run.returncode == 0:
                break
            failures.append((run.returncode, run.stderr[-300:]))
        assert len(failures) < 3, failures
        environment = podman("inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", container).stdout
        assert service.primary_key not in environment and "FPGASCORE_PRIMARY_KEY_FILE=" in environment
    finally:
        down = podman("kube", "play", "--down", str(workload_file), check=False)
        print(down.stdout, down.stderr[-500:])
    assert podman("pod", "exists", pod, check=False).returncode != 0


def test_the_yaml_reads_back_as_written():
    documents = [{"a": "plain", "quote\"d key": 'x: "y" # z\nnext line\ttab', "unicode": "é ✓", "empty": {},
                  "none": [], "n": 0, "f": 1.5, "t": True, "null": None, "yes": "yes", "octal": "0755",
                  "nested": [{"k": [1, {"deep": ["-", "- x", "*ref", "&a", "!tag", ""]}]}, [], {}]},
                 {"second": "document"}]
    text = kubernetes.to_yaml(documents)
    assert list(yaml.safe_load_all(text)) == documents
    assert text.count("---\n") == 2
