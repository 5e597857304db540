"""Accepting messages for a source: normalise each, keep the good ones durably, record the bad ones.

Every way in — the HTTP gateway, server-side code (order import, WeCom callbacks) — calls
`events_accept`. It returns only after the batch is committed: that is when the sender may forget it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction

from siyu.core.db import rows_write, write_eagerly
from siyu.core.ids import uuid7
from siyu.core.text import NUL_IN_JSON, storable_text
from siyu.tracking.ingest.spec import Received, Rejected, normalise
from siyu.tracking.models import InboundBatch, IngestWarning, Source

# A misbehaving sender must not flood the warnings table: keep this many per request, count the rest.
MAX_WARNINGS_KEPT = 20
SAMPLE_CHARS = 500


@dataclass
class Skipped:
    index: int
    code: str
    detail: str
    message_id: str = ""


@dataclass
class Accepted:
    stored: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def _message_id(message: Any) -> str:
    if isinstance(message, dict) and isinstance(message.get("messageId"), str):
        return str(message["messageId"])[:100]
    return ""


def events_accept(
    *,
    source: Source,
    messages: Sequence[Any],
    received: Received,
    sent_at: datetime | None = None,
    batch_context: Mapping[str, Any] | None = None,
    default_type: str | None = None,
    sizes_checked: bool = False,
) -> Accepted:
    """`sizes_checked`: the caller knows no message can exceed the per-event limit (a small request)."""
    if NUL_IN_JSON in orjson.dumps([messages, batch_context]):
        # Before any of their text is kept in an event or a warning: one such event would otherwise
        # hold up its whole batch on PostgreSQL until the processor gave up on it.
        messages, batch_context = storable_text(messages), storable_text(batch_context)
    accepted = Accepted()
    good: list[dict[str, Any]] = []
    warnings: list[IngestWarning] = []
    for index, message in enumerate(messages):
        try:
            good.append(
                normalise(
                    message,
                    received=received,
                    sent_at=sent_at,
                    batch_context=batch_context,
                    default_type=default_type,
                    check_size=not sizes_checked,
                )
            )
        except Rejected as rejected:
            skipped = Skipped(index, rejected.code, rejected.detail, _message_id(message))
            accepted.skipped.append(skipped)
            if len(warnings) < MAX_WARNINGS_KEPT:
                warnings.append(
                    IngestWarning(
                        workspace_id=source.workspace_id,
                        source=source,
                        code=rejected.code,
                        detail=rejected.detail[:300],
                        message_id=skipped.message_id,
                        sample=orjson.dumps(message).decode()[:SAMPLE_CHARS],
                    )
                )

    def store() -> None:
        with transaction.atomic():
            if good:
                rows_write(
                    InboundBatch,
                    [
                        {
                            "id": uuid7(),
                            "source_id": source.id,
                            "events_json": orjson.dumps(good).decode(),
                            "event_count": len(good),
                            "received_at": received.at,
                        }
                    ],
                )
            if warnings:
                IngestWarning.objects.bulk_create(warnings)

    write_eagerly(store)
    accepted.stored = len(good)
    return accepted
