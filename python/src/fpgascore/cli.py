"""Command line: ``python -m fpgascore score --host H --port P [--ssl] [--ca PEM] [--key-env VAR] IMG...``.

Prints the top-5 classes of each image with their labels, or JSON with ``--json``.
``service ...`` and ``model ...`` manage services through the manager (fpgascore._deploy_cli).
Exit status: 0 done, 1 the service (or manager) refused or failed (gRPC code on stderr), 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional, Sequence, TextIO

from . import _deploy_cli
from ._errors import ScoringError
from ._labels import Prediction, top_k
from ._retry import RetryPolicy
from .client import PredictionClient

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fpgascore", description="fpgascore image scoring client")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="score images and print the top classes")
    score.add_argument("images", nargs="+", metavar="IMG", help="image files (JPEG, PNG, ...)")
    score.add_argument("--host", default="127.0.0.1", help="service host (default 127.0.0.1)")
    score.add_argument("--port", type=int, required=True, help="service port")
    score.add_argument("--ssl", action="store_true", help="use TLS (system roots unless --ca)")
    score.add_argument("--ca", metavar="PEM", help="trust only the CA certificates in this PEM file (implies --ssl)")
    score.add_argument("--server-name", metavar="NAME", help="name to check the certificate against")
    score.add_argument("--key-env", metavar="VAR",
                       help="name of the environment variable holding the access key (never on the command line)")
    score.add_argument("--secondary-key-env", metavar="VAR", help="variable holding the secondary key")
    score.add_argument("--bearer", action="store_true", help="send the key as 'Bearer <key>'")
    score.add_argument("--allow-insecure-key", action="store_true", help="allow sending a key without TLS")
    score.add_argument("--timeout", type=float, default=10.0, help="deadline per call in seconds (default 10)")
    score.add_argument("--retries", type=int, default=4, help="max attempts per call (default 4; 1 = no retry)")
    score.add_argument("--top", type=int, default=5, metavar="K", help="classes to print per image (default 5)")
    score.add_argument("--model", default="resnet50", help="model name (default resnet50)")
    score.add_argument("--json", action="store_true", help="print one JSON document for machines")
    _deploy_cli.add_commands(commands)
    return parser


def _key(variable: Optional[str], parser: argparse.ArgumentParser) -> Optional[str]:
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        parser.error(f"environment variable {variable} is not set or empty")
    return value


def _print_text(images: Sequence[str], tops: List[List[Prediction]], out: TextIO) -> None:
    for image, top in zip(images, tops):
        print(image, file=out)
        for rank, prediction in enumerate(top, 1):
            print(f"  {rank}. {prediction.score:8.5f}  {prediction.class_id:4d}  {prediction.label}", file=out)


def _print_json(images: Sequence[str], tops: List[List[Prediction]], out: TextIO) -> None:
    document = {"results": [{"image": image, "top_k": [p._asdict() for p in top]}
                            for image, top in zip(images, tops)]}
    json.dump(document, out, indent=2)
    out.write("\n")


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("service", "model"):
        try:
            return _deploy_cli.run(args, parser, out)
        except ScoringError as error:
            print(f"error: {error}", file=err)
            return 1
        except ValueError as error:
            print(f"error: {error}", file=err)
            return 2
    primary = _key(args.key_env, parser)
    secondary = _key(args.secondary_key_env, parser)
    try:
        retry = RetryPolicy(max_attempts=args.retries)
        with PredictionClient(args.host, args.port, use_ssl=args.ssl or bool(args.ca), access_token=primary,
                              secondary_access_token=secondary, auth_scheme="bearer" if args.bearer else "raw",
                              allow_insecure_key=args.allow_insecure_key, root_certificates=args.ca,
                              server_name_override=args.server_name, timeout=args.timeout,
                              retry_policy=retry, model_name=args.model) as client:
            scores = client.score_images(args.images)
    except ScoringError as error:
        if args.json:
            json.dump({"error": {"code": error.code.name, "message": error.details,
                                 "request_id": error.request_id}}, out)
            out.write("\n")
        print(f"error: {error}", file=err)
        return 1
    except ValueError as error:
        print(f"error: {error}", file=err)
        return 2
    tops = [top_k(row, args.top) for row in scores]
    (_print_json if args.json else _print_text)(args.images, tops, out)
    return 0


def main_entry() -> None:
    """Console-script entry point (``fpgascore score ...``)."""
    sys.exit(main())
