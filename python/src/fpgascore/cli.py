"""Command line: ``python -m fpgascore score --host H --port P [--ssl] [--ca PEM] [--key-env VAR] IMG...``.

Prints the top-5 classes of each image with their labels, or JSON with ``--json``. The images
go out in calls of ``--batch-size`` (default 8), one after another; the output keeps the
order of the command line. The first call that fails ends the run: what was scored before is
printed, the error (and which images were not scored) goes to stderr.
``service ...`` and ``model ...`` manage services through the manager (fpgascore._deploy_cli).
Exit status: 0 done, 1 the service (or manager) refused or failed (gRPC code on stderr), 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

import grpc

from . import _deploy_cli
from ._errors import ScoringError
from ._labels import Prediction, top_k
from ._retry import RetryPolicy
from ._version import __version__
from .client import PredictionClient

__all__ = ["main", "build_parser", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 8  # well under the reference server's 32 images per call (its --max-batch)
MAX_ERROR_CHARS = 300  # of a server's message, in what the CLI prints
# What a server says when a call holds too many images (or too many bytes) for it: the
# reference server's "at most 32 per request", TF Serving's "maximum input batch size", and
# gRPC's message-size refusals ("larger than max", Grpc.Net's "exceeds the maximum").
_TOO_LARGE_MARKERS = ("per request", "batch size", "larger than max", "exceeds the maximum")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fpgascore", description="fpgascore image scoring client")
    parser.add_argument("--version", action="version", version=f"fpgascore {__version__}",
                        help="print the version (fpgascore X.Y.Z) and exit")
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
    score.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                       help=f"images per call (default {DEFAULT_BATCH_SIZE}; the reference server takes up to 32)")
    score.add_argument("--model", default="resnet50", help="model name (default resnet50)")
    score.add_argument("--json", action="store_true", help="print one JSON document for machines")
    _deploy_cli.add_commands(commands)
    return parser


def _print_text(images: Sequence[str], tops: List[List[Prediction]], out: TextIO) -> None:
    for image, top in zip(images, tops):
        print(image, file=out)
        for rank, prediction in enumerate(top, 1):
            print(f"  {rank}. {prediction.score:8.5f}  {prediction.class_id:4d}  {prediction.label}", file=out)


def _results(images: Sequence[str], tops: List[List[Prediction]]) -> List[Dict[str, Any]]:
    return [{"image": image, "top_k": [p._asdict() for p in top]} for image, top in zip(images, tops)]


def _print_json(document: Dict[str, Any], out: TextIO) -> None:
    json.dump(document, out, indent=2)
    out.write("\n")


def _bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def batch_too_large(error: ScoringError, images: int) -> bool:
    """Whether the server refused a call of ``images`` images as too large: a smaller
    ``--batch-size`` would help."""
    if images < 2 or error.code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        return False
    details = error.details.lower()
    return any(marker in details for marker in _TOO_LARGE_MARKERS)


def _fail(args: argparse.Namespace, error: ScoringError, batch: Sequence[str], done: int,
          results: List[Dict[str, Any]], out: TextIO, err: TextIO) -> int:
    """Reports the failed call of ``batch`` after ``done`` images were scored: the results
    (JSON), the error, and the images not scored."""
    images: List[str] = args.images
    not_scored = images[done:]
    details = _bounded(error.details)
    if args.json:
        _print_json({"error": {"code": error.code.name, "message": details, "request_id": error.request_id},
                     "results": results, "not_scored": not_scored}, out)
    request_id = f" (request-id {error.request_id})" if error.request_id else ""
    print(f"error: {error.code.name}: {details}{request_id}", file=err)
    if batch_too_large(error, len(batch)):
        print(f"error: the server refused {len(batch)} images in one call: lower --batch-size "
              f"(it is {args.batch_size})", file=err)
    if len(images) > args.batch_size:
        rest = f" and the {len(not_scored) - 1} after it" if len(not_scored) > 1 else ""
        print(f"error: {done} of {len(images)} images scored; not scored: {not_scored[0]}{rest}", file=err)
    return 1


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr  # looked up per call (tests replace them)
    parser = build_parser()
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(f"fpgascore {__version__}", file=out)  # to `out`, where argparse's action would use sys.stdout
        return 0
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
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    primary = _deploy_cli.env_key(args.key_env, parser)
    secondary = _deploy_cli.env_key(args.secondary_key_env, parser)
    results: List[Dict[str, Any]] = []
    done = 0
    batch: Sequence[str] = args.images[:args.batch_size]
    try:
        retry = RetryPolicy(max_attempts=args.retries)
        with PredictionClient(args.host, args.port, use_ssl=args.ssl or bool(args.ca), access_token=primary,
                              secondary_access_token=secondary, auth_scheme="bearer" if args.bearer else "raw",
                              allow_insecure_key=args.allow_insecure_key, root_certificates=args.ca,
                              server_name_override=args.server_name, timeout=args.timeout,
                              retry_policy=retry, model_name=args.model) as client:
            for done in range(0, len(args.images), args.batch_size):
                batch = args.images[done:done + args.batch_size]
                tops = [top_k(row, args.top) for row in client.score_images(batch)]
                if args.json:
                    results.extend(_results(batch, tops))
                else:
                    _print_text(batch, tops, out)
                    out.flush()
    except ScoringError as error:
        return _fail(args, error, batch, done, results, out, err)
    except ValueError as error:
        print(f"error: {error}", file=err)
        return 2
    if args.json:
        _print_json({"results": results}, out)
    return 0


def main_entry() -> None:
    """Console-script entry point (``fpgascore score ...``)."""
    sys.exit(main())
