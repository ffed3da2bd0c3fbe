"""Command line: ``python -m fpgascore_emulator serve [flags]`` (see ``serve --help``), or
``manage [flags]``: the control plane that runs services of reference servers (``manage --help``)."""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from . import config
from .server import serve

USAGE = "usage: fpgascore-emulator {serve,manage} [--help] [flags]"


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "manage":
        from .manager.main import main as manage
        return manage(argv[1:])
    if argv[0] != "serve":
        print(f"unknown command {argv[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    serve(config.parse(argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
