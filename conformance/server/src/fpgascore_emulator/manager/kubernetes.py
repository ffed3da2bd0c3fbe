"""A service as Kubernetes manifests (``ExportService``, ``python -m fpgascore service export
--kubernetes NAME``): what runs the same service on a cluster once one host is not enough.

* a **Secret** ``<name>-secrets`` (Opaque; only with SSL): ``tls.crt``, ``tls.key``,
  ``primary.key``, ``secondary.key``, base64 — the files the manager writes for its own
  servers, mounted read-only at /run/fpgascore/secrets (the server reads them from there and
  re-reads them on SIGHUP, as under the manager);
* a **Deployment** ``<name>``: ``replicas``, the reference-server image run as its uid 10001,
  configured by FPGASCORE_* variables (never a key in the environment), readiness and liveness
  probes on the server's health port;
* a **Service** ``<name>`` (ClusterIP): ``grpc`` 50051 (TLS when the service has SSL) and
  ``metrics`` 9090 (Prometheus, plaintext; no secret in it).

The probes are ``exec`` probes running ``python3 -m fpgascore_emulator.healthcheck 50052``
(the image's own HEALTHCHECK): the server's health port is plaintext and bound to the pod's
loopback only, so a kubelet ``grpc:`` probe (which dials the pod's IP) could not reach it,
and ``podman kube play`` runs an ``exec`` liveness probe as the container's health check.

The YAML is written here (block style, every string double-quoted as JSON quotes it — valid
YAML 1.1 and 1.2), so the manager needs no YAML library.
"""
from __future__ import annotations

import base64
import copy
import json
from typing import Any, Dict, List, Sequence, Tuple

from .store import ModelRecord, ServiceRecord

GRPC_PORT = 50051
HEALTH_PORT = 50052
METRICS_PORT = 9090
SECRETS_MOUNT = "/run/fpgascore/secrets"
IMAGE_UID = 10001
DEFAULT_IMAGE = "localhost/fpgascore-emulator:dev"  # the container runtime's default
HEALTHCHECK = ["python3", "-m", "fpgascore_emulator.healthcheck", str(HEALTH_PORT)]
# An exec probe starts a Python interpreter in the container: 0.3 s on an idle node, over 3 s
# on a CPU-starved one (seen here). A liveness probe that times out restarts a pod that is only
# busy, so the probes allow 10 s, as the image's HEALTHCHECK does.
PROBE_TIMEOUT = 10


def secret_name(service: ServiceRecord) -> str:
    return f"{service.name}-secrets"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def manifests(service: ServiceRecord, model: ModelRecord, image: str, replicas: int = 0) -> List[Dict[str, Any]]:
    """The Secret (with SSL), the Deployment and the Service of ``service``, as dicts."""
    labels = {"app.kubernetes.io/name": "fpgascore-emulator", "app.kubernetes.io/instance": service.name,
              "app.kubernetes.io/managed-by": "fpgascore-manager"}
    selector = {"app.kubernetes.io/instance": service.name}
    documents: List[Dict[str, Any]] = []
    env = [
        {"name": "FPGASCORE_MODEL_NAME", "value": model.name},
        {"name": "FPGASCORE_MODEL_VERSION", "value": str(model.version)},
        {"name": "FPGASCORE_HOST", "value": "0.0.0.0"},
        {"name": "FPGASCORE_PORT", "value": str(GRPC_PORT)},
        {"name": "FPGASCORE_HEALTH_PORT", "value": str(HEALTH_PORT)},
        {"name": "FPGASCORE_METRICS_HOST", "value": "0.0.0.0"},
        {"name": "FPGASCORE_METRICS_PORT", "value": str(METRICS_PORT)},
    ]
    container: Dict[str, Any] = {
        "name": "server",
        "image": image,
        "env": env,
        "ports": [{"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "readinessProbe": {"exec": {"command": list(HEALTHCHECK)}, "initialDelaySeconds": 2,
                           "periodSeconds": 10, "timeoutSeconds": PROBE_TIMEOUT, "failureThreshold": 3},
        "livenessProbe": {"exec": {"command": list(HEALTHCHECK)}, "initialDelaySeconds": 10,
                          "periodSeconds": 15, "timeoutSeconds": PROBE_TIMEOUT, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    pod_spec: Dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": IMAGE_UID, "runAsGroup": IMAGE_UID,
                            "fsGroup": IMAGE_UID},
        "terminationGracePeriodSeconds": 15,
        "containers": [container],
        # The root filesystem is read-only: Python's tempfile (the server's TLS load) needs /tmp.
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
    }
    container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    if service.ssl_enabled:
        documents.append({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": secret_name(service), "labels": dict(labels)},
            "type": "Opaque",
            "data": {"tls.crt": _b64(service.certificate_pem), "tls.key": _b64(service.private_key_pem),
                     "primary.key": _b64(service.primary_key), "secondary.key": _b64(service.secondary_key)},
        })
        env += [
            {"name": "FPGASCORE_TLS_CERT", "value": f"{SECRETS_MOUNT}/tls.crt"},
            {"name": "FPGASCORE_TLS_KEY", "value": f"{SECRETS_MOUNT}/tls.key"},
            {"name": "FPGASCORE_PRIMARY_KEY_FILE", "value": f"{SECRETS_MOUNT}/primary.key"},
            {"name": "FPGASCORE_SECONDARY_KEY_FILE", "value": f"{SECRETS_MOUNT}/secondary.key"},
        ]
        container["volumeMounts"].append({"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True})
        # 0440 with fsGroup 10001: readable by the server's group, by nobody else.
        pod_spec["volumes"].append({"name": "secrets", "secret": {"secretName": secret_name(service),
                                                                  "defaultMode": 0o440}})
    documents.append({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": service.name, "labels": dict(labels),
                     "annotations": {"fpgascore.io/service-id": service.id, "fpgascore.io/model": model.id}},
        "spec": {
            "replicas": replicas or service.num_replicas or 1,
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {"labels": dict(labels),
                             "annotations": {"prometheus.io/scrape": "true",
                                             "prometheus.io/port": str(METRICS_PORT)}},
                "spec": pod_spec,
            },
        },
    })
    documents.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": service.name, "labels": dict(labels)},
        "spec": {"type": "ClusterIP", "selector": dict(selector),
                 "ports": [{"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
                           {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}]},
    })
    return documents


def for_podman(documents: Sequence[Dict[str, Any]], host_ports: Dict[str, int],
               host_ip: str = "127.0.0.1") -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """What ``podman kube play`` (4.3) runs of these manifests: ``(configmaps, workload)``.
    Its Secret volumes do not work (4.3 crashes on one in a Deployment), so each Secret becomes
    a ConfigMap of the same name and data (decoded), given with ``--configmap FILE``, and the
    volume that mounted it mounts that ConfigMap; each container port named in ``host_ports``
    is published on ``host_ip``, the others are dropped (podman would publish them on 0.0.0.0). The
    Service is left out (podman ignores it)."""
    configmaps: List[Dict[str, Any]] = []
    workload: List[Dict[str, Any]] = []
    for document in copy.deepcopy(list(documents)):
        if document["kind"] == "Secret":
            configmaps.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": document["metadata"],
                               "data": {key: base64.b64decode(value).decode("utf-8")
                                        for key, value in document["data"].items()}})
        elif document["kind"] == "Deployment":
            pod = document["spec"]["template"]["spec"]
            for volume in pod.get("volumes", []):
                if "secret" in volume:
                    source = volume.pop("secret")
                    volume["configMap"] = {"name": source["secretName"]}
            for container in pod["containers"]:  # a port without hostPort: podman publishes it on 0.0.0.0
                container["ports"] = [dict(port, hostIP=host_ip, hostPort=host_ports[port["name"]])
                                      for port in container.get("ports", []) if port["name"] in host_ports]
            workload.append(document)
    return configmaps, workload


# -- YAML -----------------------------------------------------------------------------------
def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if value is None:
        return "null"
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def _lines(value: Any, indent: int) -> List[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        lines: List[str] = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{_scalar(key) if not _plain_key(key) else key}:")
                lines += _lines(item, indent + 2 if isinstance(item, dict) else indent)
            else:
                rendered = "{}" if item == {} else "[]" if item == [] else _scalar(item)
                lines.append(f"{pad}{_scalar(key) if not _plain_key(key) else key}: {rendered}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            inner = _lines(item, indent + 2)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines += inner[1:]
        return lines or [pad + "[]"]
    return [pad + _scalar(value)]


# Words YAML 1.1 reads as booleans or null when plain.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _plain_key(key: str) -> bool:
    """Whether ``key`` can be written unquoted (``apiVersion``, ``tls.crt``) and read back as is."""
    return (bool(key) and key.isascii() and key[0].isalpha() and key.lower() not in _RESERVED
            and all(char.isalnum() or char in "./-_" for char in key))


def to_yaml(documents: Sequence[Dict[str, Any]]) -> str:
    """The documents as one YAML stream (``---`` between them)."""
    return "".join("---\n" + "\n".join(_lines(document, 0)) + "\n" for document in documents)
