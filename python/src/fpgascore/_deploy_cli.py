"""The ``service`` and ``model`` commands of ``python -m fpgascore`` (the deployment client).

    python -m fpgascore model register --name resnet50
    python -m fpgascore service create --name x --ssl --cert cert.pem --key key.pem
    python -m fpgascore service get|keys|delete x;  service list;  service regenerate-keys x --type secondary
    python -m fpgascore service export --kubernetes x [-o x.yaml]   # Secret + Deployment + Service

The manager is --manager HOST:PORT (else $FPGASCORE_MANAGER, else 127.0.0.1:50055); the admin
token comes from $FPGASCORE_ADMIN_TOKEN (or --admin-token-env VAR / --admin-token-file F),
never from the command line. ``create`` prints the address and the keys, once.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, Optional, TextIO

from .deployment import ADMIN_TOKEN_ENV, AuthKeys, DeploymentClient, Model, Service

__all__ = ["add_commands", "run"]

MANAGER_ENV = "FPGASCORE_MANAGER"
DEFAULT_MANAGER = "127.0.0.1:50055"


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manager", default=os.environ.get(MANAGER_ENV, DEFAULT_MANAGER), metavar="HOST:PORT",
                        help=f"the manager (default ${MANAGER_ENV}, else {DEFAULT_MANAGER})")
    parser.add_argument("--admin-token-env", default=ADMIN_TOKEN_ENV, metavar="VAR",
                        help=f"environment variable holding the admin token (default {ADMIN_TOKEN_ENV})")
    parser.add_argument("--admin-token-file", metavar="FILE", help="file holding the admin token")
    parser.add_argument("--manager-ca", metavar="PEM", help="trust this CA for the manager's TLS (implies TLS)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per call (default 120)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_commands(commands: Any) -> None:
    """Adds ``service`` and ``model`` to the CLI's subcommands."""
    service = commands.add_parser("service", help="create, inspect, rotate keys of and delete scoring services")
    actions = service.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="start a service; prints its address and keys once")
    create.add_argument("--name", required=True, help="DNS-safe name")
    create.add_argument("--model", default="resnet50", help="registered model id or name (default resnet50)")
    create.add_argument("--ssl", action="store_true", help="TLS with --cert/--key; calls then need a key")
    create.add_argument("--cert", metavar="PEM", help="certificate chain (PEM file)")
    create.add_argument("--key", metavar="PEM", help="its private key (PEM file)")
    create.add_argument("--primary-key-env", metavar="VAR", help="take the primary key from this variable")
    create.add_argument("--secondary-key-env", metavar="VAR", help="take the secondary key from this variable")
    create.add_argument("--replicas", type=int, default=1, help="replicas (default 1)")
    update = actions.add_parser("update", help="new certificate, SSL on/off, another model, replicas")
    update.add_argument("service", help="id or name")
    ssl_switch = update.add_mutually_exclusive_group()
    ssl_switch.add_argument("--ssl", dest="ssl", action="store_true", default=None, help="turn SSL on")
    ssl_switch.add_argument("--no-ssl", dest="ssl", action="store_false", help="turn SSL off")
    update.add_argument("--cert", metavar="PEM")
    update.add_argument("--key", metavar="PEM")
    update.add_argument("--model", help="another registered model")
    update.add_argument("--replicas", type=int, help="run this many replicas behind one address (1 to 16)")
    for name, text in (("get", "show a service"), ("delete", "stop and remove a service"),
                       ("keys", "print a service's keys")):
        action = actions.add_parser(name, help=text)
        action.add_argument("service", help="id or name")
    actions.add_parser("list", help="list services")
    export = actions.add_parser("export", help="write the service as Kubernetes manifests (they hold its keys)")
    export.add_argument("--kubernetes", action="store_true", required=True,
                        help="Kubernetes manifests: Secret, Deployment, Service (YAML)")
    export.add_argument("service", help="id or name")
    export.add_argument("-o", "--output", metavar="FILE", help="write them to FILE (created 0600) instead of stdout")
    export.add_argument("--image", help="the server image the Deployment runs (default: the manager's)")
    export.add_argument("--replicas", type=int, help="the Deployment's replicas (default: the service's)")
    regenerate = actions.add_parser("regenerate-keys", help="replace one key (no call fails); prints both")
    regenerate.add_argument("service", help="id or name")
    regenerate.add_argument("--type", choices=("primary", "secondary"), required=True, help="which key")
    model = commands.add_parser("model", help="register and list models")
    model_actions = model.add_subparsers(dest="action", required=True)
    register = model_actions.add_parser("register", help="register a model (a new version of its name)")
    register.add_argument("--name", required=True)
    register.add_argument("--description", default="")
    register.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    model_actions.add_parser("list", help="list models")
    for parser in [*actions.choices.values(), *model_actions.choices.values()]:
        _connection_options(parser)


def _read(flag: str, path: str, parser: argparse.ArgumentParser) -> bytes:
    """The file a flag names; a usage error naming the flag and the file when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        parser.error(f"{flag}: {error.strerror or error}: {path}")


def _token(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    if args.admin_token_file:
        return _read("--admin-token-file", args.admin_token_file, parser).decode(errors="replace").strip()
    value = os.environ.get(args.admin_token_env, "")
    if not value:
        parser.error(f"no admin token: set {args.admin_token_env} (or --admin-token-file)")
    return value


def _checked_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """What the Go and C# commands refuse before any call (exit 2), refused here too; reads the
    --cert and --key files (their bytes go to the client as the PEM)."""
    if getattr(args, "replicas", None) is not None and args.replicas < 1:
        parser.error("--replicas must be at least 1")
    files = [flag for flag in ("cert", "key") if getattr(args, flag, None) is not None]
    if files and args.action == "create" and not args.ssl:
        parser.error("--cert and --key need --ssl")
    for flag in files:  # bytes: the client takes them as the PEM itself, never as a path
        setattr(args, flag, _read(f"--{flag}", getattr(args, flag), parser))


def env_key(variable: Optional[str], parser: argparse.ArgumentParser) -> Optional[str]:
    """The key in environment variable ``variable`` (None when no variable is named); a usage
    error when it is unset or empty. Keys never come from the command line itself."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        parser.error(f"environment variable {variable} is not set or empty")
    return value


def _service_dict(service: Service) -> Dict[str, Any]:
    document: Dict[str, Any] = {
        "id": service.id, "name": service.name, "state": service.state.value, "model_id": service.model_id,
        "ip_address": service.ip_address, "port": service.port, "ssl_enabled": service.ssl_enabled,
        "num_replicas": service.num_replicas, "runtime": service.runtime}
    if service.state_message:
        document["state_message"] = service.state_message
    if service.certificate_sha256:
        document["certificate_sha256"] = service.certificate_sha256
    if service.primary_key:
        document.update(primary_key=service.primary_key, secondary_key=service.secondary_key)
    return document


def _print_service(service: Service, out: TextIO) -> None:
    ssl = "SSL on" if service.ssl_enabled else "SSL off (no keys)"
    print(f"service {service.name} ({service.id}): {service.state.value} at {service.address}, {ssl}, "
          f"model {service.model_id}, {service.num_replicas} replica{'s' if service.num_replicas != 1 else ''}",
          file=out)
    if service.state_message:
        print(f"  {service.state_message}", file=out)
    if service.primary_key:
        _print_keys(AuthKeys(service.primary_key, service.secondary_key or ""), out)


def _print_keys(keys: AuthKeys, out: TextIO) -> None:
    print(f"primary key:   {keys.primary_key}", file=out)
    print(f"secondary key: {keys.secondary_key}", file=out)


def write_private(path: str, text: str) -> None:
    """Writes ``text`` to ``path``, mode 0600 (an existing file is truncated and made 0600)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with open(descriptor, "w") as handle:
        handle.write(text)


def _model_dict(model: Model) -> Dict[str, Any]:
    return {"id": model.id, "name": model.name, "version": model.version, "description": model.description,
            "tags": dict(sorted(model.tags.items()))}  # sorted by key, as the Go and C# commands print them


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO) -> int:
    """Runs a ``service`` or ``model`` command; ScoringError and ValueError go to the caller."""
    if args.command == "service":
        _checked_flags(args, parser)
    token = _token(args, parser)

    def write_json(document: Any) -> None:
        json.dump(document, out, indent=2)
        out.write("\n")

    emit = write_json if args.json else None
    with DeploymentClient(args.manager, admin_token=token, root_certificates=args.manager_ca,
                          timeout=args.timeout) as client:
        if args.command == "model":
            if args.action == "register":
                tags = dict(tag.split("=", 1) if "=" in tag else (tag, "") for tag in args.tag)
                model = client.register_model(args.name, description=args.description, tags=tags)
                emit(_model_dict(model)) if emit else print(f"model {model.id} registered", file=out)
            else:
                models = client.list_models()
                if emit:
                    emit([_model_dict(model) for model in models])
                for model in [] if emit else models:
                    print(f"{model.id}\t{model.description}", file=out)
            return 0
        action = args.action
        if action == "create":
            service = client.create_service(
                args.name, args.model, ssl_enabled=args.ssl, ssl_certificate=args.cert, ssl_key=args.key,
                primary_key=env_key(args.primary_key_env, parser),
                secondary_key=env_key(args.secondary_key_env, parser), num_replicas=args.replicas)
        elif action == "update":
            service = client.update_service(args.service, ssl_enabled=args.ssl, ssl_certificate=args.cert,
                                            ssl_key=args.key, model_id=args.model, num_replicas=args.replicas)
        elif action == "get":
            service = client.get_service(args.service)
        elif action == "list":
            services = client.list_services()
            if emit:
                emit([_service_dict(service) for service in services])
            for service in [] if emit else services:
                print(f"{service.name}\t{service.id}\t{service.state.value}\t{service.address}\t"
                      f"{'ssl' if service.ssl_enabled else 'plaintext'}\t{service.model_id}", file=out)
            return 0
        elif action == "export":
            manifests = client.export_kubernetes(args.service, image=args.image, replicas=args.replicas)
            if args.output:
                write_private(args.output, manifests)
                print(f"wrote the manifests of {args.service} to {args.output} (0600; they hold its keys)", file=out)
            else:
                out.write(manifests)
            return 0
        elif action == "delete":
            client.delete_service(args.service)
            emit({"deleted": args.service}) if emit else print(f"service {args.service} deleted", file=out)
            return 0
        else:
            keys = (client.get_auth_keys(args.service) if action == "keys"
                    else client.regenerate_auth_keys(args.service, args.type))
            if emit:
                emit({"primary_key": keys.primary_key, "secondary_key": keys.secondary_key})
            else:
                _print_keys(keys, out)
            return 0
        emit(_service_dict(service)) if emit else _print_service(service, out)
        return 0
