"""Anonymous PDP reads: a short-lived response cache with ETags and Cache-Control.

Only anonymous query operations whose root fields are all public catalog reads are cached
(``productAvailability``, ``product``, ``products``). Entries live ``OMS_PDP_CACHE_SECONDS``
at most and the whole cache is dropped when any replica commits an inventory change
(LISTEN/NOTIFY), so a PDP never shows stale stock for long; placement always re-checks
atomically in the database anyway.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from cachetools import LRUCache
from graphql import FieldNode, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLError

PUBLIC_ROOT_FIELDS = frozenset({"productAvailability", "product", "products", "__typename"})


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    etag: str
    stored_at: float
    expires_at: float


PUBLIC_READ_CACHE_BYTES = 4 * 1024 * 1024
_public_reads: LRUCache[tuple[str, str | None], tuple[bool, int]] = LRUCache(
    maxsize=PUBLIC_READ_CACHE_BYTES, getsizeof=lambda value: value[1]
)


def is_public_read(query: str, operation_name: str | None) -> bool:
    """Whether this document's chosen operation is a query over public catalog fields only
    (remembered per document, within ``PUBLIC_READ_CACHE_BYTES`` of document text)."""
    key = (query, operation_name)
    found = _public_reads.get(key)
    if found is not None:
        return found[0]
    answer = _is_public_read(query, operation_name)
    size = len(query) + len(operation_name or "") + 64
    if size < PUBLIC_READ_CACHE_BYTES // 16:
        _public_reads[key] = (answer, size)
    return answer


def _is_public_read(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, max_tokens=5000)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in PUBLIC_ROOT_FIELDS for s in selections)


class ResponseCache:
    """Bounded by entries and by bytes of response bodies (a product list is large)."""

    def __init__(
        self, seconds: float, max_entries: int = 10_000, max_bytes: int = 32 * 1024 * 1024
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.enabled = seconds > 0
        self._entries: OrderedDict[bytes, CachedResponse] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(query: str, operation_name: str | None, variables: bytes) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        for part in (query.encode(), (operation_name or "").encode(), variables):
            digest.update(len(part).to_bytes(4, "big"))
            digest.update(part)
        return digest.digest()

    def get(self, key: bytes) -> CachedResponse | None:
        if not self.enabled:
            return None
        entry = self._entries.get(key)
        if entry is None or entry.expires_at < time.monotonic():
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: bytes, body: bytes) -> CachedResponse:
        now = time.monotonic()
        entry = CachedResponse(
            body=body,
            etag='W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
            stored_at=now,
            expires_at=now + self.seconds,
        )
        if self.enabled and len(body) <= self.max_bytes // 16:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= len(old.body)
            self._entries[key] = entry
            self.bytes += len(body)
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.bytes -= len(dropped.body)
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled and self.seconds > 0
        self.clear()
