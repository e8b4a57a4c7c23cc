"""Persisted documents: trusted ones shipped in ``graphql_schema/documents/`` and, when allowed,
automatic persisted queries (the Apollo APQ protocol: sha256 hash first, text on a miss)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cachetools import LRUCache

TRUSTED_DIR = Path(__file__).resolve().parents[2] / "graphql_schema" / "documents"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DocumentStore:
    """Trusted documents, and APQ registrations bounded by bytes of text (least recently used
    go first): anyone may register, nobody can grow memory past ``max_bytes``."""

    def __init__(self, allow_registration: bool, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.allow_registration = allow_registration
        self.max_bytes = max_bytes
        self._trusted: dict[str, str] = {}
        self._registered: LRUCache[str, str] = LRUCache(maxsize=max_bytes, getsizeof=len)

    @property
    def registered_bytes(self) -> int:
        return int(self._registered.currsize)

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
        found: str | None = self._registered.get(digest)
        return found

    def register(self, digest: str, text: str) -> bool:
        """Remember ``text`` under ``digest``; False when the hash does not match the text."""
        if sha256(text) != digest:
            return False
        if digest in self._trusted or not self.allow_registration:
            return True
        if len(text) <= self.max_bytes // 16:  # one document never crowds out the rest
            self._registered[digest] = text
        return True
