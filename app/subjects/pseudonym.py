"""Keyed pseudonyms (HMAC-SHA256) of subject identifiers, with a versioned key ring for rotation.

The identifier itself is never stored. A pseudonym is HMAC-SHA256(key, normalised identifier); the
row keeps the id of the key that made it. HMAC is one-way, so rotation cannot recompute old rows
without the identifiers: the ring keeps old keys, lookups try every key, and a row is moved to the
current key whenever its identifier is presented again (re-import, lookup, or `subjects rotate-key
--identifiers`). Old-key rows stay findable until retention removes them; a key can leave the ring
once `subjects rotate-key` reports no rows under it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from app.core.errors import Conflict


def normalise(identifier: str) -> str:
    """The canonical form that is hashed: NFKC, trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", identifier).split()).casefold()


def pseudonym(identifier: str, key: str) -> str:
    """Hex HMAC-SHA256 of the normalised identifier under key."""
    return hmac.new(key.encode(), normalise(identifier).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class KeyRing:
    """The configured keys by id, and the id new pseudonyms are made with."""

    keys: dict[str, str]
    current: str

    @classmethod
    def from_config(cls, config: Mapping) -> KeyRing:
        """From SUBJECT_PSEUDONYM_KEYS ({id: key}, or its JSON), SUBJECT_PSEUDONYM_KEY and SUBJECT_PSEUDONYM_KEY_ID."""
        raw = config.get("SUBJECT_PSEUDONYM_KEYS") or {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise Conflict("SUBJECT_PSEUDONYM_KEYS must be a JSON object {key id: key}") from None
        keys = {str(k): str(v) for k, v in dict(raw).items() if v}
        current = str(config.get("SUBJECT_PSEUDONYM_KEY_ID") or "k1")
        single = config.get("SUBJECT_PSEUDONYM_KEY")
        if single:
            keys.setdefault(current, str(single))
        if current not in keys:
            raise Conflict("no subject pseudonym key is configured: set SUBJECT_PSEUDONYM_KEY (and "
                           "SUBJECT_PSEUDONYM_KEY_ID), or SUBJECT_PSEUDONYM_KEYS with the current id in it")
        if any(len(v) < 16 for v in keys.values()):
            raise Conflict("every subject pseudonym key must be at least 16 characters long")
        return cls(keys=keys, current=current)

    def make(self, identifier: str) -> tuple[str, str]:
        """(key id, pseudonym) under the current key."""
        return self.current, pseudonym(identifier, self.keys[self.current])

    def candidates(self, identifier: str) -> dict[str, str]:
        """{key id: pseudonym} under every key of the ring: what a lookup searches for."""
        return {kid: pseudonym(identifier, key) for kid, key in self.keys.items()}
