"""Persisted documents: trusted ones shipped in ``graphql_schema/documents/`` and, when allowed,
automatic persisted queries (the Apollo APQ protocol: sha256 hash first, text on a miss)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

TRUSTED_DIR = Path(__file__).resolve().parents[2] / "graphql_schema" / "documents"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DocumentStore:
    def __init__(self, allow_registration: bool, max_registered: int = 5000) -> None:
        self.allow_registration = allow_registration
        self.max_registered = max_registered
        self._trusted: dict[str, str] = {}
        self._registered: OrderedDict[str, str] = OrderedDict()

    def load_trusted(self, folder: Path = TRUSTED_DIR) -> int:
        for path in sorted(folder.glob("*.graphql")):
            text = path.read_text(encoding="utf-8")
            self._trusted[sha256(text)] = text
        return len(self._trusted)

    @property
    def trusted(self) -> dict[str, str]:
        return dict(self._trusted)

    def lookup(self, digest: str) -> str | None:
        text = self._trusted.get(digest)
        if text is not None:
            return text
        text = self._registered.get(digest)
        if text is not None:
            self._registered.move_to_end(digest)
        return text

    def register(self, digest: str, text: str) -> bool:
        """Remember ``text`` under ``digest``; False when the hash does not match the text."""
        if sha256(text) != digest:
            return False
        if digest in self._trusted or not self.allow_registration:
            return True
        self._registered[digest] = text
        self._registered.move_to_end(digest)
        while len(self._registered) > self.max_registered:
            self._registered.popitem(last=False)
        return True
