"""Time-ordered identifiers (UUIDv7, RFC 9562): sortable like a sequence, unguessable like a UUID.

Within one millisecond the 12-bit `rand_a` field is a counter (RFC 9562 §6.2, method 1), so ids made
by one process are strictly increasing: keyset pagination by id never skips or repeats a row.
"""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF


def uuid7() -> uuid.UUID:
    global _last_ms, _counter  # process-wide monotonic state, guarded by the lock
    with _lock:
        unix_ms = time.time_ns() // 1_000_000
        if unix_ms > _last_ms:
            _last_ms = unix_ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave room to count up
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:  # 4096 ids in one millisecond: borrow the next one
                _last_ms += 1
                _counter = 0
        unix_ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= counter << 64  # rand_a used as a counter
    value |= 0b10 << 62  # variant
    value |= rand_b
    return uuid.UUID(int=value)


def uuid_or_none(value: object) -> uuid.UUID | None:
    """`value` as a UUID (a UUID, or text in any form `uuid.UUID` reads), or None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
