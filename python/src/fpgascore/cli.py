"""Command line: ``python -m fpgascore score [--host H] [--port P] [--ssl] [--ca PEM] [--key-env VAR] IMG...``.

The flags, their defaults, the JSON document and the exit codes are the same in the Python,
Go and C# commands (conformance/CLIENT_SPEC.md, "Command line"); flags may come before or
after the image paths. Prints the top-5 classes of each image with their labels, or one JSON
document with ``--json``. The images go out in calls of ``--batch-size`` (default 8), one
after another; the output keeps the order of the command line. The first call that fails
ends the run: what was scored before is printed, the error (and which images were not
scored) goes to stderr.
``service ...`` and ``model ...`` manage services through the manager (fpgascore._deploy_cli).
Exit status: 0 done; 1 the service (or manager) refused or failed, or an image could not be
read (gRPC code on stderr); 2 bad usage or configuration.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

import grpc

from . import _deploy_cli
from ._base import CallInfo
from ._errors import ScoringError
from ._labels import Prediction, top_k
from ._retry import RetryPolicy
from ._version import __version__
from .client import PredictionClient

__all__ = ["main", "build_parser", "DEFAULT_BATCH_SIZE", "DEFAULT_PORT"]

DEFAULT_BATCH_SIZE = 8  # well under the reference server's 32 images per call (its --max-batch)
DEFAULT_PORT = 50051
MAX_ERROR_CHARS = 300  # of a server's message, in what the CLI prints
# What a server says when a call holds too many images (or too many bytes) for it: the
# reference server's "at most 32 per request", TF Serving's "maximum input batch size", and
# gRPC's message-size refusals ("larger than max", Grpc.Net's "exceeds the maximum").
_TOO_LARGE_MARKERS = ("per request", "batch size", "larger than max", "exceeds the maximum")
KEY_WITHOUT_TLS = ("a key (--key-env) is only sent over TLS: add --ssl (or --ca PEM), "
                   "or --allow-insecure-key for a trusted network or a local test server")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be 1 to 65535, not {text!r}")
    return value


def _add_score_flags(score: argparse.ArgumentParser) -> None:
    score.add_argument("--version", action="version", version=f"fpgascore {__version__}",
                       help="print the version (fpgascore X.Y.Z) and exit")
    score.add_argument("images", nargs="*", metavar="IMG", help="image files (JPEG, PNG, ...)")
    score.add_argument("--host", default="127.0.0.1", help="service host (default 127.0.0.1)")
    score.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"service port (default {DEFAULT_PORT})")
    score.add_argument("--ssl", action="store_true", help="use TLS (system roots unless --ca)")
    score.add_argument("--ca", metavar="PEM", help="trust only the CA certificates in this PEM file (implies --ssl)")
    score.add_argument("--server-name", metavar="NAME",
                       help="name to check the certificate against (implies --ssl)")
    score.add_argument("--key-env", metavar="VAR",
                       help="name of the environment variable holding the access key (never on the command line)")
    score.add_argument("--secondary-key-env", metavar="VAR", help="variable holding the secondary key")
    score.add_argument("--bearer", action="store_true", help="send the key as 'Bearer <key>'")
    score.add_argument("--allow-insecure-key", action="store_true", help="allow sending a key without TLS")
    score.add_argument("--timeout", type=_seconds, default=10.0, metavar="SECONDS",
                       help="deadline per call in seconds, a decimal (default 10)")
    score.add_argument("--retries", type=_positive, default=4, metavar="N",
                       help="max attempts per call (default 4; 1 = no retry)")
    score.add_argument("--top", "--top-k", dest="top", type=_positive, default=5, metavar="K",
                       help="classes to print per image (default 5)")
    score.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, metavar="N",
                       help=f"images per call (default {DEFAULT_BATCH_SIZE}; the reference server takes up to 32)")
    score.add_argument("--model", default="resnet50", help="model name (default resnet50)")
    score.add_argument("--json", action="store_true", help="print one JSON document for machines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fpgascore", description="fpgascore image scoring client")
    parser.add_argument("--version", action="version", version=f"fpgascore {__version__}",
                        help="print the version (fpgascore X.Y.Z) and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="score images and print the top classes")
    _add_score_flags(score)
    _deploy_cli.add_commands(commands)
    return parser


def _print_text(images: Sequence[str], tops: List[List[Prediction]], out: TextIO) -> None:
    for image, top in zip(images, tops):
        print(image, file=out)
        for rank, prediction in enumerate(top, 1):
            print(f"  {rank}. {prediction.score:8.5f}  {prediction.class_id:4d}  {prediction.label}", file=out)


def _results(images: Sequence[str], tops: List[List[Prediction]], request_id: str) -> List[Dict[str, Any]]:
    return [{"image": image, "request_id": request_id, "top_k": [p._asdict() for p in top]}
            for image, top in zip(images, tops)]


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


class _Unreadable(Exception):
    """An image file that cannot be read: ``index`` on the command line, ``message`` says why."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index, self.message = index, message


def _read_images(images: Sequence[str], start: int) -> List[bytes]:
    data = []
    for offset, path in enumerate(images):
        try:
            with open(path, "rb") as handle:
                data.append(handle.read())
        except OSError as error:
            why = "no such file" if isinstance(error, FileNotFoundError) else (error.strerror or str(error))
            raise _Unreadable(start + offset, f"cannot read '{path}': {why}") from None
    return data


def _fail(args: argparse.Namespace, code: str, message: str, request_id: str, failed: Sequence[int],
          done: int, results: List[Dict[str, Any]], out: TextIO, err: TextIO, hint: str = "") -> int:
    """Reports the failure of the images at ``failed`` (the call after ``done`` images were
    scored, or one unreadable image): the JSON document, the error, the images not scored."""
    images: List[str] = args.images
    not_scored = [image for index, image in enumerate(images) if index >= done and index not in failed]
    details = _bounded(message)
    if args.json:
        error = {"code": code, "message": details, "request_id": request_id}
        results.extend({"image": images[index], "error": error} for index in failed)
        _print_json({"results": results, "not_scored": not_scored}, out)
    suffix = f" (request-id {request_id})" if request_id else ""
    print(f"error: {code}: {details}{suffix}", file=err)
    if hint:
        print(f"error: {hint}", file=err)
    if len(images) > args.batch_size:
        left = len(images) - done - 1
        rest = f" and the {left} after it" if left > 0 else ""
        print(f"error: {done} of {len(images)} images scored; not scored: {images[done]}{rest}", file=err)
    return 1


def _quiet_grpc_core() -> None:
    """grpc core's own log lines (``E1201 ... Handshake failed``) are not for a CLI user: the
    error the CLI prints says it. GRPC_VERBOSITY as the user set it is kept."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")


def _score(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    if not args.images:
        parser.error("no image given (IMG...)")
    primary = _deploy_cli.env_key(args.key_env, parser)
    secondary = _deploy_cli.env_key(args.secondary_key_env, parser)
    use_ssl = bool(args.ssl or args.ca or args.server_name)
    if (primary or secondary) and not use_ssl and not args.allow_insecure_key:
        parser.error(KEY_WITHOUT_TLS)
    _quiet_grpc_core()
    try:
        client = PredictionClient(args.host, args.port, use_ssl=use_ssl, access_token=primary,
                                  secondary_access_token=secondary, auth_scheme="bearer" if args.bearer else "raw",
                                  allow_insecure_key=args.allow_insecure_key, root_certificates=args.ca,
                                  server_name_override=args.server_name, timeout=args.timeout,
                                  retry_policy=RetryPolicy(max_attempts=args.retries), model_name=args.model)
    except (ScoringError, ValueError) as error:  # the configuration: usage, exit 2
        parser.error(str(error))
    results: List[Dict[str, Any]] = []
    images: List[str] = args.images
    with client:
        for done in range(0, len(images), args.batch_size):
            batch = images[done:done + args.batch_size]
            info = CallInfo()
            try:
                data = _read_images(batch, done)
                tops = [top_k(row, args.top) for row in client.score_images(data, call_info=info)]
            except _Unreadable as error:
                return _fail(args, "INVALID_ARGUMENT", error.message, "", [error.index], done, results, out, err)
            except ScoringError as error:
                hint = (f"the server refused {len(batch)} images in one call: lower --batch-size "
                        f"(it is {args.batch_size})" if batch_too_large(error, len(batch)) else "")
                return _fail(args, error.code.name, error.details, error.request_id,
                             list(range(done, done + len(batch))), done, results, out, err, hint)
            if args.json:
                results.extend(_results(batch, tops, info.request_id))
            else:
                _print_text(batch, tops, out)
                out.flush()
    if args.json:
        _print_json({"results": results, "not_scored": []}, out)
    return 0


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr  # looked up per call (tests replace them)
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if arguments and arguments[0] == "--version":
        print(f"fpgascore {__version__}", file=out)  # to `out`, where argparse's action would use sys.stdout
        return 0
    if arguments and arguments[0] == "score":
        score = argparse.ArgumentParser(prog="fpgascore score", description="score images and print the top classes")
        _add_score_flags(score)
        # Flags may follow the image paths (fpgascore score a.jpg --top 3 b.jpg).
        return _score(score.parse_intermixed_args(arguments[1:]), score, out, err)
    args = parser.parse_args(arguments)
    try:
        return _deploy_cli.run(args, parser, out)
    except ScoringError as error:
        print(f"error: {error}", file=err)
        return 1
    except ValueError as error:
        print(f"error: {error}", file=err)
        return 2


def main_entry() -> None:
    """Console-script entry point (``fpgascore score ...``)."""
    sys.exit(main())
