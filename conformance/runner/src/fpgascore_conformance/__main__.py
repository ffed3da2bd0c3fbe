"""``python -m fpgascore_conformance``: run the conformance matrix (see --help)."""
from __future__ import annotations

import argparse
import pathlib
import sys

from . import drivers
from .cases import INVENTORY, load_cases, select, write_inventory
from .runner import Options, Run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fpgascore-conformance",
                                     description="Runs every conformance case for every client against the "
                                                 "reference server and prints the matrix.")
    parser.add_argument("--server", choices=("container", "process"), default="container",
                        help="run the reference server as a container (default) or as local processes")
    parser.add_argument("--language", help=f"comma-separated built-in drivers: a subset of {','.join(drivers.LANGUAGES)}, "
                                           "or none (default: all of them, or none when --driver is given)")
    parser.add_argument("--driver", action="append", default=[], metavar="NAME=COMMAND",
                        help="also run an external driver (any program speaking the driver protocol of "
                             "proto/fpgascore/conformance/v1/driver.proto) as matrix column NAME; COMMAND is split "
                             "as a shell would and run in the current directory (repeatable; see conformance/README.md)")
    parser.add_argument("--known-failing", action="append", default=[], metavar="NAME=FILE",
                        help="the known-failing list of driver NAME (case-id globs, one a line); built-in drivers "
                             "default to conformance/known_failing/NAME.txt, external ones to none (repeatable)")
    parser.add_argument("--case", action="append", default=[], metavar="GLOB",
                        help="only cases whose id or template name matches (repeatable)")
    parser.add_argument("--out", default="out/conformance", help="where reports go (default out/conformance)")
    parser.add_argument("--no-build", action="store_true", help="use the drivers as already built")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="run N cases of each driver at once, each on its own driver process (default 1; "
                             "timing-sensitive cases get less slack on a small machine)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run every case N times and print the pass rate of each case that was not "
                             "always ok (flakiness)")
    parser.add_argument("--list", action="store_true", help="list the selected cases and exit")
    parser.add_argument("--write-inventory", action="store_true",
                        help=f"write every case id to {INVENTORY.relative_to(INVENTORY.parents[2])} and exit (a full "
                             "run fails while it differs from the cases, so that renamed cases are seen)")
    args = parser.parse_args(argv)
    if args.write_inventory:
        write_inventory(load_cases())
        print(f"wrote {INVENTORY}")
        return 0
    if args.list:
        try:
            for case in select(load_cases(), args.case):
                print(f"{case.id:45} {case.server:16} {case.summary}")
        except BrokenPipeError:
            pass
        return 0
    options = Options(server_mode=args.server,
                      drivers=drivers.select_drivers(args.language, args.driver, args.known_failing),
                      patterns=args.case, out_dir=pathlib.Path(args.out), build_drivers=not args.no_build,
                      jobs=max(1, args.jobs), repeat=max(1, args.repeat))
    return Run(options).execute()


if __name__ == "__main__":
    sys.exit(main())
