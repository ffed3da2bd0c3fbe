"""``python -m fpgascore_conformance``: run the conformance matrix (see --help)."""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Optional, Sequence

from . import artifacts, drivers
from .cases import INVENTORY, load_cases, load_servers, needs_of, select, write_inventory
from .runner import Options, Run, Target


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="fpgascore-conformance",
                                     description="Runs every conformance case for every client against the "
                                                 "reference server and prints the matrix.")
    parser.add_argument("--server", choices=("container", "process"), default="container",
                        help="run the reference server as a container (default) or as local processes")
    parser.add_argument("--language",
                        help=f"comma-separated built-in drivers: a subset of {','.join(drivers.LANGUAGES)}, "
                             "or none (default: all of them, or none when --driver is given)")
    parser.add_argument("--driver", action="append", default=[], metavar="NAME=COMMAND",
                        help="also run an external driver (any program speaking the driver protocol of "
                             "proto/fpgascore/conformance/v1/driver.proto) as matrix column NAME; COMMAND is split "
                             "as a shell would and run in the current directory "
                             "(repeatable; see conformance/README.md)")
    parser.add_argument("--known-failing", action="append", default=[], metavar="NAME=FILE",
                        help="the known-failing list of driver NAME (case-id globs, one a line); built-in drivers "
                             "default to conformance/known_failing/NAME.txt, external ones to none (repeatable)")
    parser.add_argument("--case", action="append", default=[], metavar="GLOB",
                        help="only cases whose id or template name matches (repeatable)")
    parser.add_argument("--out", default="out/conformance", help="where reports go (default out/conformance)")
    parser.add_argument("--no-build", action="store_true", help="use the drivers as already built")
    parser.add_argument("--artifacts", metavar="DIR",
                        help="test the built packages in DIR (scripts/build-artifacts.sh DIR) instead of the tree: "
                             "the wheel in a fresh virtual environment, the .nupkg from DIR/nuget as a local feed "
                             "in a fresh driver project, the Go module from DIR/go as a file:// module proxy in a "
                             "separate module (see conformance/README.md)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="run N cases of each driver at once, each on its own driver process (default 2; "
                             "timing-sensitive cases get less slack on a small machine)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run every case N times and print the pass rate of each case that was not "
                             "always ok (flakiness)")
    target = parser.add_argument_group(
        "testing a running server (see conformance/README.md, \"Testing a running server\")",
        "--target runs every case that needs no reference-server controls against a server that is already "
        "running (a deployment, another emulator, a TF Serving-compatible server); no server is started, and the "
        "other cases are reported as skipped with the reason. Expectations on the server's log (attempts, "
        "received keys, logged request ids) are not judged.")
    target.add_argument("--target", metavar="HOST:PORT", help="the running server to test")
    target.add_argument("--target-tls", action="store_true", help="it speaks TLS (default: plaintext)")
    target.add_argument("--target-ca", metavar="FILE",
                        help="PEM roots that trust its certificate (default: the system roots); also enables the "
                             "cases that need a certificate the system roots do not trust")
    target.add_argument("--target-server-name", metavar="NAME",
                        help="the name its certificate is checked against (default: HOST)")
    target.add_argument("--target-key-env", metavar="VAR",
                        help="the environment variable holding a key it accepts (the key itself never goes on the "
                             "command line; it is never printed and the run fails if it shows up in any output)")
    target.add_argument("--target-secondary-key-env", metavar="VAR",
                        help="the environment variable holding a second key it accepts (failover cases)")
    target.add_argument("--target-reference-model", action="store_true",
                        help="it serves the reference model (e.g. another reference-server instance): check "
                             "golden scores and model metadata (default: only the answers' shape)")
    parser.add_argument("--list", action="store_true",
                        help="list the selected cases (id, server, summary, needs) and exit")
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
            profiles = load_servers()
            for case in select(load_cases(servers=profiles), args.case):
                print(f"{case.id:45} {case.server:16} {case.summary}  [needs: "
                      f"{', '.join(needs_of(case, profiles[case.server]))}]")
        except BrokenPipeError:
            pass
        return 0
    try:
        chosen = target_of(args)
    except ValueError as error:
        parser.error(str(error))
    builtins, tested = None, None
    if args.artifacts:
        directory = (drivers.caller_dir() / args.artifacts).resolve()   # relative to where you ran it
        try:
            found = artifacts.find(directory, drivers.chosen_languages(args.language, args.driver))
        except artifacts.ArtifactError as error:
            parser.error(str(error))
        if not found:
            parser.error("--artifacts tests the built-in drivers' packages: no built-in driver is selected")
        builtins = artifacts.specs(directory, found)
        tested = f"{directory}: " + "; ".join(f"{name} {found[name].describe()}" for name in found)
    options = Options(server_mode=args.server, target=chosen, artifacts=tested,
                      drivers=drivers.select_drivers(args.language, args.driver, args.known_failing, builtins),
                      patterns=args.case, out_dir=pathlib.Path(args.out), build_drivers=not args.no_build,
                      jobs=max(1, args.jobs), repeat=max(1, args.repeat))
    return Run(options).execute()


def target_of(args: argparse.Namespace) -> Optional[Target]:
    """The --target* options as a Target (None without --target); keys read from the environment."""
    others = [name for name in ("target_tls", "target_ca", "target_server_name", "target_key_env",
                                "target_secondary_key_env", "target_reference_model") if getattr(args, name)]
    if not args.target:
        if others:
            raise ValueError(f"--{others[0].replace('_', '-')} needs --target HOST:PORT")
        return None
    host, _, port = args.target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--target {args.target!r} is not HOST:PORT")
    keys = {}
    for option in ("target_key_env", "target_secondary_key_env"):
        variable = getattr(args, option)
        if variable:
            keys[option] = os.environ.get(variable, "")
            if not keys[option]:
                raise ValueError(f"--{option.replace('_', '-')} {variable}: the variable is not set or empty")
    ca = (drivers.caller_dir() / args.target_ca).resolve() if args.target_ca else None  # relative to where you ran it
    if ca is not None and not ca.is_file():
        raise ValueError(f"--target-ca {args.target_ca}: no such file")
    return Target(host=host.strip("[]"), port=int(port), tls=args.target_tls, ca=ca,
                  server_name=args.target_server_name, primary_key=keys.get("target_key_env"),
                  secondary_key=keys.get("target_secondary_key_env"), reference_model=args.target_reference_model)


if __name__ == "__main__":
    sys.exit(main())
