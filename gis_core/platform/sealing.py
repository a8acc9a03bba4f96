"""Personal data sealed at rest: residents' ID numbers and phones encrypted, found by a keyed digest.

A dump or a backup of the database must not expose who lives where. Each such value is stored
twice, neither readable without keys the database never sees: sealed by Fernet (`cryptography`:
AES-128-CBC with an HMAC, a fresh IV each time) for reading back, and digested by HMAC-SHA256
under a separate key so that an exact search ("who has this ID number?") is an indexed equality.
MultiFernet opens a value sealed under any configured key; a value sealed again goes under the
newest: keys rotate by putting a new key first, running `onegrid pii rotate`, then dropping the old one.

Keys come from settings (`ONEGRID_PII_KEYS`, `ONEGRID_PII_DIGEST_KEY`); when unset, from a file
in the runtime directory made once with fresh keys (owner-only), which the embedded demo uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gis_core.platform.settings import Settings, get_settings

KEY_FILE = "pii-keys.json"


class ConfigError(RuntimeError):
    """The keys are missing or wrong: a deployment mistake, not a request's."""


class Sealer:
    """Seals, opens and digests personal values under one set of keys."""

    def __init__(self, keys: list[str], digest_key: str) -> None:
        if not keys:
            raise ConfigError("no PII key: set ONEGRID_PII_KEYS (make one with `onegrid pii new-key`)")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except ValueError as exc:
            raise ConfigError(f"ONEGRID_PII_KEYS: each key is 32 url-safe base64 bytes ({exc})") from None
        self._digest_key = base64.urlsafe_b64decode(digest_key.encode())
        if len(self._digest_key) < 32:
            raise ConfigError("ONEGRID_PII_DIGEST_KEY must be at least 32 bytes (url-safe base64)")

    def seal(self, value: str | None) -> bytes | None:
        """`value` encrypted under the newest key (None stays None)."""
        return None if value is None else self._fernet.encrypt(value.encode())

    def open(self, token: bytes | memoryview | None) -> str | None:
        """The value of a sealed token, under whichever configured key sealed it."""
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise ConfigError("a sealed value opens under none of ONEGRID_PII_KEYS (key dropped?)") from None

    def seal_and_digest(self, value: str | None) -> tuple[bytes | None, bytes | None]:
        """What a sealed field stores: the value sealed, and its digest."""
        return self.seal(value), self.digest(value)

    def digest(self, value: str | None) -> bytes | None:
        """The keyed digest exact search matches on (equal values, equal digests)."""
        if value is None:
            return None
        return hmac.new(self._digest_key, value.encode(), hashlib.sha256).digest()


def new_key() -> str:
    """A fresh key, usable as a PII key or as the digest key."""
    return Fernet.generate_key().decode()


def normal(kind: str, value: str) -> str:
    """The one spelling a value of `kind` is sealed and digested in (an ID number's x is X)."""
    return value.strip().upper() if kind == "id_number" else value.strip()


@lru_cache(maxsize=8)
def _key_file(var_dir: str) -> dict[str, Any]:
    """The runtime directory's keys, made once (owner-only) when the settings name none."""
    path = Path(var_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": [new_key()], "digest_key": new_key()}, f)
    return json.loads(path.read_text())


@lru_cache(maxsize=8)
def _sealer(keys: tuple[str, ...], digest_key: str) -> Sealer:
    return Sealer(list(keys), digest_key)


def sealer(settings: Settings | None = None) -> Sealer:
    """The sealer of `settings` (the process's own by default)."""
    s = settings or get_settings()
    stored: dict[str, Any] = {} if (s.pii_keys and s.pii_digest_key) else _key_file(str(s.var_dir))
    keys = s.pii_keys.get_secret_value().split(",") if s.pii_keys else list(stored["keys"])
    digest = s.pii_digest_key.get_secret_value() if s.pii_digest_key else str(stored["digest_key"])
    return _sealer(tuple(k.strip() for k in keys if k.strip()), digest)
