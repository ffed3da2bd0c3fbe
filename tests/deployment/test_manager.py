"""The manager's own settings: its admin token (file or environment, required), its TLS port,
its loopback default; and the CLI verbs of the Python client against it."""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import subprocess
import sys

import pytest

import fpgascore
from fpgascore import UnavailableError, UntrustedCertificateError

from .managers import ROOT, RUN_EMULATOR, ManagerProcess, pids_with_command_line_holding, wait_until


def manage(*args, env=None, timeout=30):
    return subprocess.run([str(RUN_EMULATOR), "manage", *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else {k: v for k, v in os.environ.items()
                                                           if k != "FPGASCORE_ADMIN_TOKEN"})


def test_the_manager_needs_a_strong_admin_token(tmp_path):
    result = manage("--port", "0", "--state-dir", str(tmp_path / "state"))
    assert result.returncode != 0 and "needs an admin token" in result.stderr
    weak = tmp_path / "weak.token"
    weak.write_text("short\n")
    result = manage("--port", "0", "--state-dir", str(tmp_path / "state"), "--admin-token-file", str(weak))
    assert result.returncode != 0 and "at least 16" in result.stderr
    assert "short" not in result.stderr


def test_the_token_from_the_environment_and_the_loopback_default(tmp_path):
    token = secrets.token_urlsafe(24)
    port_file = tmp_path / "port"
    env = dict(os.environ, FPGASCORE_ADMIN_TOKEN=token)
    process = subprocess.Popen([str(RUN_EMULATOR), "manage", "--port", "0", "--port-file", str(port_file),
                                "--state-dir", str(tmp_path / "state")], env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: port_file.exists() or process.poll() is not None, what="the manager")
        port = int(port_file.read_text())
        with fpgascore.DeploymentClient(f"127.0.0.1:{port}", admin_token=token) as client:
            assert client.list_services() == []
            client.register_model("resnet50")
            service = client.create_service("env-token", "resnet50")
            # The manager's settings (its token) do not reach the server it starts.
            [server] = pids_with_command_line_holding(service.id)
            assert token.encode() not in pathlib.Path(f"/proc/{server}/environ").read_bytes()
            client.delete_service(service)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    listening = next(json.loads(line) for line in stderr.splitlines() if '"manager.listening"' in line)
    assert listening["host"] == "127.0.0.1" and listening["tls"] is False
    assert token not in stderr


def test_the_manager_over_tls(tmp_path, tls):
    manager = ManagerProcess(tmp_path / "state", secrets.token_urlsafe(24),
                             extra_args=["--tls-cert", str(tls.server.cert), "--tls-key", str(tls.server.key)])
    manager.start()
    try:
        with manager.client(root_certificates=tls.ca) as client:
            assert client.list_services() == []
        with manager.client(root_certificates=tls.untrusted_ca) as client:
            with pytest.raises(UntrustedCertificateError):
                client.list_services()
        with manager.client() as plaintext:  # plaintext to a TLS port
            with pytest.raises(UnavailableError):
                plaintext.list_services(timeout=10)
    finally:
        manager.cleanup()


def cli(manager, *args, extra_env=None):
    env = {**os.environ, "FPGASCORE_ADMIN_TOKEN": manager.token, "FPGASCORE_MANAGER": manager.address,
           "PYTHONPATH": str(ROOT / "python" / "src"), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "fpgascore", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_the_cli_verbs(make_manager, tls):
    manager = make_manager()
    assert cli(manager, "model", "register", "--name", "resnet50").stdout.strip() == "model resnet50:1 registered"
    created = cli(manager, "service", "create", "--name", "cli-svc", "--ssl", "--cert", str(tls.server.cert),
                  "--key", str(tls.server.key))
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert lines[0].startswith("service cli-svc (svc_") and "RUNNING at 127.0.0.1:" in lines[0] and "SSL on" in lines[0]
    primary = lines[1].split()[-1]
    secondary = lines[2].split()[-1]
    assert lines[1].startswith("primary key:") and lines[2].startswith("secondary key:")
    assert created.stdout.count(primary) == 1 and created.stdout.count(secondary) == 1  # once
    with manager.client() as deployments:
        assert tuple(deployments.get_auth_keys("cli-svc")) == (primary, secondary)

    listed = cli(manager, "service", "list")
    assert listed.stdout.startswith("cli-svc\tsvc_") and primary not in listed.stdout
    shown = json.loads(cli(manager, "service", "get", "cli-svc", "--json").stdout)
    assert shown["state"] == "RUNNING" and "primary_key" not in shown
    keys = cli(manager, "service", "keys", "cli-svc").stdout
    assert primary in keys and secondary in keys
    regenerated = json.loads(cli(manager, "service", "regenerate-keys", "cli-svc", "--type", "secondary",
                                 "--json").stdout)
    assert regenerated["primary_key"] == primary and regenerated["secondary_key"] != secondary

    refused = cli(manager, "service", "create", "--name", "Not_Dns")
    assert refused.returncode == 1 and "INVALID_ARGUMENT" in refused.stderr and "not DNS-safe" in refused.stderr
    wrong = cli(manager, "service", "list", extra_env={"FPGASCORE_ADMIN_TOKEN": "wrong-token-wrong-token"})
    assert wrong.returncode == 1 and "UNAUTHENTICATED" in wrong.stderr

    assert cli(manager, "service", "delete", "cli-svc").stdout.strip() == "service cli-svc deleted"
    missing = cli(manager, "service", "get", "cli-svc")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
