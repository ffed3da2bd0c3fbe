"""Access keys: which one is in use, how it is sent, and when it may be sent at all."""
from __future__ import annotations

import threading
from typing import Optional, Tuple

from ._errors import InsecureKeyError, InvalidKeyError

__all__ = ["KeyRing", "AUTH_SCHEMES", "check_transport"]

AUTH_SCHEMES = ("raw", "bearer")
AUTHORIZATION = "authorization"


def check_transport(has_key: bool, use_ssl: bool, allow_insecure_key: bool) -> None:
    """Refuses a key over plaintext unless explicitly allowed (FAILED_PRECONDITION)."""
    if has_key and not use_ssl and not allow_insecure_key:
        raise InsecureKeyError(
            "refusing to send an access key over a plaintext channel: use use_ssl=True, "
            "or allow_insecure_key=True for a trusted network or a local test server")


def _checked_key(name: str, key: Optional[str]) -> Optional[str]:
    """The key without surrounding whitespace (a key read from a file keeps its newline);
    an empty key or one with a character a header cannot carry is refused, naming the
    problem and never the key (conformance/CLIENT_SPEC.md, "Keys")."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise InvalidKeyError(f"{name} must be a string, not {type(key).__name__}")
    trimmed = key.strip()
    if not trimmed:
        raise InvalidKeyError(f"{name} is empty")
    for position, char in enumerate(trimmed):
        if not " " <= char <= "~":
            raise InvalidKeyError(f"{name} holds a character that is not printable ASCII (U+{ord(char):04X} at "
                                  f"position {position + 1} of {len(trimmed)}); a key is sent as a header value")
    return trimmed


class KeyRing:
    """The primary and optional secondary key, and which one later calls use.

    A key is never part of the repr. ``header(key)`` gives the ``authorization`` metadata.
    """

    def __init__(self, primary: Optional[str], secondary: Optional[str] = None, scheme: str = "raw") -> None:
        scheme = (scheme or "raw").lower()
        if scheme not in AUTH_SCHEMES:
            raise ValueError(f"auth_scheme must be one of {AUTH_SCHEMES}, not {scheme!r}")
        primary, secondary = _checked_key("access_token", primary), _checked_key("secondary_access_token", secondary)
        if secondary is not None and primary is None:
            raise ValueError("secondary_access_token needs access_token")
        self._keys: Tuple[str, ...] = tuple(k for k in (primary, secondary) if k is not None)
        self._scheme = scheme
        self._current = 0
        self._lock = threading.Lock()

    @property
    def has_key(self) -> bool:
        return bool(self._keys)

    @property
    def has_secondary(self) -> bool:
        return len(self._keys) == 2

    @property
    def scheme(self) -> str:
        return self._scheme

    @property
    def secrets(self) -> Tuple[str, ...]:
        """The keys, for redaction only."""
        return self._keys

    def current(self) -> int:
        """Index of the key later calls use (0 primary, 1 secondary); -1 when no key."""
        if len(self._keys) < 2:  # nothing to switch to: no lock on every call
            return 0 if self._keys else -1
        with self._lock:
            return self._current

    def other(self, index: int) -> int:
        """The index of the other key."""
        return 1 - index

    def prefer(self, index: int) -> None:
        """Makes later calls use key ``index`` (after it worked where the other did not)."""
        with self._lock:
            self._current = index

    def header(self, index: int) -> Optional[Tuple[str, str]]:
        """The ``authorization`` metadata pair for key ``index``; None when no key."""
        if index < 0 or not self._keys:
            return None
        key = self._keys[index]
        return (AUTHORIZATION, f"Bearer {key}" if self._scheme == "bearer" else key)

    def __repr__(self) -> str:
        return f"KeyRing(keys={len(self._keys)}, scheme={self._scheme!r}, in_use={self._current})"
