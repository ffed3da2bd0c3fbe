"""Conformance cases as data: loading conformance/cases/*.toml and servers.toml, expanding
each case template over its transports, and substituting the run's secrets.

A case template (TOML table in [[case]]):
    name, summary                 identity
    server | transports           an explicit server configuration, or one case per transport
                                  ("plaintext" -> server "plain"; "tls" -> server "tls" with the
                                  run's CA and the primary key)
    client = {...}                driver request fields (CLIENT_SPEC.md), plus roots / env_roots
    action = {...}                kind = images | tensor | request | metadata | none, and its inputs
    expect = {...}                the outcome (see Expectation)
    steps = [...]                 optional: calls on one client, with `rotate` steps between
    needs = [...]                 optional: what the case needs of the server that cannot be derived
                                  (NEEDS; the derived ones: needs_of)
"""
from __future__ import annotations

import dataclasses
import fnmatch
import pathlib
import tomllib
from typing import Any, Dict, List, Optional, Sequence, Tuple

CONFORMANCE_DIR = pathlib.Path(__file__).resolve().parents[3]
TRANSPORT_SERVERS = {"plaintext": "plain", "tls": "tls"}

# What a case can need of the server it runs against (conformance/README.md, "Testing a
# running server"). The first group only the reference server has (a --target run skips the
# case, "needs the reference server"); the second is what a --target run was told about its
# target (skipped when it was not).
REFERENCE_NEEDS = {
    "server-controls": "server controls (x-conformance-* metadata)",
    "server-profile": "a reference-server configuration other than plain/tls",
    "key-rotation": "keys rotated during the case",
    "server-restart": "the server restarted during the case",
    "server-log": "the server's conformance log (the case's point is what the server received)",
    "reference-model": "the reference model's metadata",
}
TARGET_NEEDS = {
    "plaintext": "a plaintext target (no --target-tls)",
    "tls": "a TLS target (--target-tls)",
    "keys": "a target that demands a key, and the key (--target-key-env)",
    "secondary-key": "a second accepted key (--target-secondary-key-env)",
    "private-ca": "a target whose certificate the system roots do not trust (--target-ca)",
}
NEEDS = {**REFERENCE_NEEDS, **TARGET_NEEDS}
# Only these can be written in a case's `needs`: the others are derived from the case.
EXPLICIT_NEEDS = ("server-log", "private-ca")


@dataclasses.dataclass(frozen=True)
class ServerProfile:
    name: str
    summary: str = ""
    tls: Optional[str] = None          # which certificate: server, self-signed, expired, ...
    keys: bool = False
    require_auth: bool = False
    service_time_ms: float = 0.0
    queue_depth: int = 32
    fpgas: int = 1
    max_message_bytes: Optional[int] = None
    exclusive: bool = False
    # The server closes a connection idle this long (--max-connection-idle-seconds); 0 = never.
    max_connection_idle_seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class Expectation:
    codes: Sequence[str] = ()
    codes_include: Sequence[str] = ()
    golden: Sequence[str] = ()
    # Added to every golden score before comparing (an answer the server shifted on purpose).
    score_offset: float = 0.0
    message_contains: Optional[str] = None
    message_excludes: Optional[str] = None
    attempts: Optional[int] = None
    attempts_min: Optional[int] = None
    attempts_max: Optional[int] = None
    received_authorization: Optional[Sequence[str]] = None
    request_id_matches_log: bool = False
    # Every successful call reports a request id, one the server logged for the case.
    request_id_on_success: bool = False
    max_elapsed_ms: Optional[float] = None
    # action "metadata": what model_metadata() returns (model_name, version, signature_name,
    # inputs and outputs as [name, dtype, shape] in name order).
    metadata: Optional[Dict[str, Any]] = None
    # Every call's trailers (as its driver reports them) hold these keys with these values.
    trailers: Optional[Dict[str, str]] = None


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a case: calls judged by ``expect``, or a change between calls: new keys
    (``rotate``), a graceful server restart on the same port (``restart``), an idle pause."""
    expect: Optional[Expectation] = None
    rotate: Optional[Dict[str, str]] = None
    restart: bool = False
    idle_ms: int = 0


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    template: str
    summary: str
    server: str
    transport: str
    client: Dict[str, Any]
    action: Dict[str, Any]
    steps: Sequence[Step]
    timeout_s: float = 60.0
    needs: Sequence[str] = ()           # explicit, from the TOML (needs_of adds the derived ones)

    @property
    def uses_env_roots(self) -> Optional[str]:
        roots: str = self.client.get("roots", "")
        if roots.startswith("env:"):
            return roots[4:]
        env_roots: Optional[str] = self.client.get("env_roots")
        return env_roots


def _expectation(table: Dict[str, Any]) -> Expectation:
    unknown = set(table) - {f.name for f in dataclasses.fields(Expectation)}
    if unknown:
        raise ValueError(f"unknown expectation fields {sorted(unknown)}")
    return Expectation(**table)


STEP_KINDS = ("expect", "rotate", "restart", "idle_ms")


def _step(case: str, table: Dict[str, Any]) -> Step:
    if len(table) != 1 or next(iter(table)) not in STEP_KINDS:
        raise ValueError(f"case {case}: a step is one of {list(STEP_KINDS)}, not {sorted(table)}")
    kind, value = next(iter(table.items()))
    if kind == "expect":
        return Step(expect=_expectation(value))
    if kind == "rotate":
        return Step(rotate=dict(value))
    if kind == "restart":
        return Step(restart=bool(value))
    return Step(idle_ms=int(value))


def load_servers(path: pathlib.Path = CONFORMANCE_DIR / "servers.toml") -> Dict[str, ServerProfile]:
    data = tomllib.loads(path.read_text())
    return {name: ServerProfile(name=name, **table) for name, table in data.items()}


def _expand(template: Dict[str, Any], servers: Dict[str, ServerProfile]) -> List[Case]:
    name = template["name"]
    client = dict(template.get("client", {}))
    if "steps" in template:
        steps = [_step(name, s) for s in template["steps"]]
    else:
        steps = [Step(expect=_expectation(template.get("expect", {})))]
    if "server" in template:
        variants = [(template["server"], None)]
    else:
        variants = [(TRANSPORT_SERVERS[t], t) for t in template.get("transports", ["plaintext"])]
    needs = tuple(template.get("needs", ()))
    wrong = sorted(set(needs) - set(EXPLICIT_NEEDS))
    if wrong:
        raise ValueError(f"case {name}: needs {wrong} cannot be written (only {list(EXPLICIT_NEEDS)}; "
                         f"the others are derived)")
    cases = []
    for server, transport in variants:
        if server not in servers:
            raise ValueError(f"case {name}: unknown server {server!r}")
        variant_client = dict(client)
        if transport == "tls":
            variant_client.setdefault("roots", "ca")
            variant_client.setdefault("access_token", "$primary")
        profile = servers[server]
        resolved_transport = transport or ("tls" if profile.tls else "plaintext")
        variant_client.setdefault("use_ssl", bool(profile.tls))
        case_id = f"{name}@{transport}" if transport and len(variants) > 1 else name
        cases.append(Case(id=case_id, template=name, summary=template.get("summary", ""), server=server,
                          transport=resolved_transport, client=variant_client,
                          action=dict(template.get("action", {"kind": "none"})), steps=steps,
                          timeout_s=float(template.get("timeout_s", 60.0)), needs=needs))
    return cases


def needs_of(case: Case, profile: ServerProfile) -> List[str]:
    """Everything the case needs of a server (NEEDS), derived from the case plus its explicit
    `needs`, in NEEDS order."""
    found = set(case.needs)
    if any(key.lower().startswith("x-conformance-") for key in case.client.get("metadata", {})):
        found.add("server-controls")
    if case.server not in TRANSPORT_SERVERS.values():
        found.add("server-profile")
    if any(step.rotate for step in case.steps):
        found.add("key-rotation")
    if any(step.restart for step in case.steps):
        found.add("server-restart")
    if any(step.expect is not None and step.expect.metadata is not None for step in case.steps):
        found.add("reference-model")
    found.add("tls" if profile.tls else "plaintext")
    if profile.keys:
        found.add("keys")
    if "$secondary" in repr(case.client):
        found.add("secondary-key")
    return [need for need in NEEDS if need in found]


def load_cases(directory: pathlib.Path = CONFORMANCE_DIR / "cases",
               servers: Optional[Dict[str, ServerProfile]] = None) -> List[Case]:
    servers = servers or load_servers()
    cases: List[Case] = []
    for path in sorted(directory.glob("*.toml")):
        for template in tomllib.loads(path.read_text()).get("case", []):
            cases.extend(_expand(template, servers))
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate case ids: {sorted(duplicates)}")
    return cases


INVENTORY = CONFORMANCE_DIR / "cases" / "INVENTORY.txt"


def inventory_changes(cases: Sequence[Case], path: pathlib.Path = INVENTORY) -> Tuple[List[str], List[str]]:
    """(ids in the inventory but not among the cases, ids among the cases but not in it): a
    case renamed without the inventory following shows up in both, instead of vanishing from
    every report and known-failing list unnoticed."""
    listed = [line.strip() for line in path.read_text().splitlines()
              if line.strip() and not line.startswith("#")] if path.exists() else []
    ids = [case.id for case in cases]
    return sorted(set(listed) - set(ids)), sorted(set(ids) - set(listed))


def write_inventory(cases: Sequence[Case], path: pathlib.Path = INVENTORY) -> None:
    path.write_text("# Every conformance case id (scripts/conformance.sh --write-inventory). A full run fails\n"
                    "# while this list and the cases differ, so that a renamed case is seen.\n"
                    + "".join(f"{case.id}\n" for case in cases))


def select(cases: Sequence[Case], patterns: Sequence[str]) -> List[Case]:
    """Cases whose id or template name matches one of the glob patterns (all when none)."""
    if not patterns:
        return list(cases)
    return [c for c in cases if any(fnmatch.fnmatchcase(c.id, p) or fnmatch.fnmatchcase(c.template, p)
                                    for p in patterns)]


def substitute(value: Any, secrets: Dict[str, str]) -> Any:
    """Replaces $primary, $secondary, ... in strings (longest names first)."""
    if isinstance(value, str):
        for name in sorted(secrets, key=len, reverse=True):
            value = value.replace(f"${name}", secrets[name])
        return value
    if isinstance(value, list):
        return [substitute(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, secrets) for k, v in value.items()}
    if isinstance(value, Expectation):
        return dataclasses.replace(value, **{f.name: substitute(getattr(value, f.name), secrets)
                                             for f in dataclasses.fields(Expectation)})
    return value
