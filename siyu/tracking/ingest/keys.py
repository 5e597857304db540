"""Write key → source, cached briefly in the process: the gateway looks one up on every request."""

import threading
import time

from siyu.core.text import NUL
from siyu.tracking.models import Source
from siyu.tracking.selectors.sources import source_for_write_key as source_lookup

CACHE_SECONDS = 10.0  # a rotated or deactivated key stops working within this long

_lock = threading.Lock()
_cache: dict[str, tuple[float, Source | None]] = {}


def source_for_write_key(write_key: str) -> Source | None:
    if not write_key or len(write_key) > 64 or NUL in write_key:
        return None
    moment = time.monotonic()
    with _lock:
        cached = _cache.get(write_key)
    if cached is not None and moment - cached[0] < CACHE_SECONDS:
        return cached[1]
    source = source_lookup(write_key)
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[write_key] = (moment, source)
    return source


def forget_write_keys() -> None:
    with _lock:
        _cache.clear()
