"""Write key → source, cached briefly in the process: the gateway looks one up on every request."""

import threading
import time

from siyu.tracking.models import Source

CACHE_SECONDS = 10.0  # a rotated or deactivated key stops working within this long

_lock = threading.Lock()
_cache: dict[str, tuple[float, Source | None]] = {}


def source_for_write_key(write_key: str) -> Source | None:
    if not write_key or len(write_key) > 64:
        return None
    moment = time.monotonic()
    with _lock:
        cached = _cache.get(write_key)
    if cached is not None and moment - cached[0] < CACHE_SECONDS:
        return cached[1]
    source = Source.all_workspaces.filter(write_key=write_key, is_active=True).first()
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[write_key] = (moment, source)
    return source


def forget_write_keys() -> None:
    with _lock:
        _cache.clear()
