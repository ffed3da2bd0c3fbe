"""Command-line options shared by the examples (see --help). The examples use the installed
package (python/README.md, Install), never the checkout's python/src: run them with the Python
of the environment the wheel is installed in, e.g. ~/fpgascore-venv/bin/python python/examples/score_image.py."""
from __future__ import annotations

import argparse
import os


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50051)
    p.add_argument("--ssl", action="store_true", help="use TLS")
    p.add_argument("--ca", help="PEM file of the CA to trust (default: system roots)")
    p.add_argument("--key-env", default="FPGASCORE_KEY", help="environment variable holding the key")
    p.add_argument("--allow-insecure-key", action="store_true")
    return p


def client_options(args: argparse.Namespace) -> dict:
    return {"use_ssl": args.ssl, "access_token": os.environ.get(args.key_env) or None,
            "root_certificates": args.ca, "allow_insecure_key": args.allow_insecure_key}
