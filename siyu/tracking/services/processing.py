"""The event processor: inbound batches become stored events and their effects, exactly once.

A processor claims the oldest unprocessed batches (in receipt order, so each contact's events are
handled in order), and in ONE transaction stores their events (skipping messageIds already stored),
resolves identities, updates counters, stages, attribution, content reading and radar alerts, and
marks the batches processed. A worker killed half-way leaves nothing behind: the batches are still
unprocessed and the next run does all of it again. Several processors may run; they take turns.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from django.db import connection, transaction

from siyu.contacts.services.tracked import IdentityKey, traits_clean
from siyu.contacts.services.values import ContactLookups
from siyu.core.events import gathered, publish
from siyu.core.tenancy import active_workspace_id, workspace_scope
from siyu.core.time import now
from siyu.tracking.events import ActivityRecorded
from siyu.tracking.models import Event, InboundBatch, IngestWarning, WarningCode
from siyu.tracking.services.effects import EffectInput, effects_apply
from siyu.tracking.services.purchases import ORDER_COMPLETED
from siyu.tracking.services.resolution import Resolver, anonymous_key, user_key

log = logging.getLogger(__name__)

CHUNK_EVENTS = 1000  # events per transaction: short enough not to hold SQLite's write lock for long
MAX_ATTEMPTS = 5
IN_CLAUSE = 500


@dataclass
class Processed:
    batches: int = 0
    events: int = 0
    duplicates: int = 0
    skipped: int = 0


def _claim(*, max_events: int) -> list[InboundBatch]:
    pending = InboundBatch.all_workspaces.filter(processed_at__isnull=True).order_by("id")
    if connection.features.has_select_for_update:
        pending = pending.select_for_update()  # another processor waits here, then finds them done
    heads = list(pending.values_list("id", "event_count")[:200])
    chosen: list[UUID] = []
    total = 0
    for batch_id, count in heads:
        if chosen and total + count > max_events:
            break
        chosen.append(batch_id)
        total += count
    return list(InboundBatch.all_workspaces.filter(id__in=chosen).order_by("id"))


def inbound_process(*, max_events: int = CHUNK_EVENTS) -> Processed:
    """Process the oldest pending batches (about `max_events` events). Returns what was done."""
    # A plain read first: an idle processor must not take SQLite's write lock many times a second.
    if not InboundBatch.all_workspaces.filter(processed_at__isnull=True).exists():
        return Processed()
    try:
        with transaction.atomic():
            batches = _claim(max_events=max_events)
            return _process_batches(batches)
    except Exception:
        log.exception("event processing failed; retrying the batches one by one")
    return _process_one_by_one(max_batches=max(1, max_events // 100))


def _process_one_by_one(*, max_batches: int) -> Processed:
    done = Processed()
    for _ in range(max_batches):
        try:
            with transaction.atomic():
                batches = _claim(max_events=1)
                if not batches:
                    break
                result = _process_batches(batches)
        except Exception as exc:
            _record_failure(exc)
            break
        done.batches += result.batches
        done.events += result.events
        done.duplicates += result.duplicates
    return done


def _record_failure(exc: Exception) -> None:
    with transaction.atomic():
        batch = InboundBatch.all_workspaces.filter(processed_at__isnull=True).order_by("id").first()
        if batch is None:
            return
        batch.attempts += 1
        batch.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if batch.attempts >= MAX_ATTEMPTS:
            # Give up on it rather than stall every later batch; the source's page shows why.
            batch.processed_at = now()
            with workspace_scope(batch.workspace_id):
                IngestWarning.objects.create(
                    source_id=batch.source_id,
                    code=WarningCode.BAD_FIELD,
                    detail=f"a batch of {batch.event_count} events could not be processed: {batch.last_error}"[
                        :300
                    ],
                )
        batch.save(update_fields=["attempts", "last_error", "processed_at"])
    time.sleep(min(2.0, 0.1 * 2**batch.attempts))


def _process_batches(batches: list[InboundBatch]) -> Processed:
    done = Processed()
    if not batches:
        return done
    by_workspace: dict[UUID, list[InboundBatch]] = defaultdict(list)
    for batch in batches:
        by_workspace[batch.workspace_id].append(batch)
    for workspace_id, group in by_workspace.items():
        with workspace_scope(workspace_id):
            events: list[dict[str, Any]] = []
            for batch in group:
                for event in orjson.loads(batch.events_json):
                    event["sourceId"] = batch.source_id
                    events.append(event)
            with gathered():  # the domains above see the chunk's changes together, once
                result = _process_events(events)
        done.events += result.events
        done.duplicates += result.duplicates
    InboundBatch.all_workspaces.filter(id__in=[b.id for b in batches]).update(processed_at=now())
    done.batches = len(batches)
    return done


def _already_stored(message_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(message_ids), IN_CLAUSE):
        chunk = message_ids[start : start + IN_CLAUSE]
        found.update(Event.objects.filter(message_id__in=chunk).values_list("message_id", flat=True))
    return found


def _trait_identities(events: Iterable[dict[str, Any]], lookups: ContactLookups) -> None:
    for event in events:
        if event["type"] == "identify" and event["properties"]:
            values, identities, errors = traits_clean(event["properties"], lookups=lookups)
            event["_traits"] = values
            event["_trait_keys"] = identities
            event["_trait_errors"] = errors


def _process_events(events: list[dict[str, Any]]) -> Processed:
    done = Processed()
    stored = _already_stored(list({e["messageId"] for e in events}))
    fresh: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event in events:
        message_id = event["messageId"]
        if message_id in stored or message_id in seen:
            done.duplicates += 1
            continue
        seen.add(message_id)
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
        event["receivedAt"] = datetime.fromisoformat(event["receivedAt"])
        fresh.append(event)
    if not fresh:
        return done
    fresh.sort(key=lambda e: e["timestamp"])  # stable: equal times keep receipt order

    lookups = ContactLookups.load()
    _trait_identities(fresh, lookups)
    keys: set[IdentityKey] = set()
    for event in fresh:
        if event["anonymousId"]:
            keys.add(anonymous_key(event["anonymousId"]))
        if event["userId"]:
            keys.add(user_key(event["userId"]))
        if event["type"] == "alias":
            keys.update((anonymous_key(event["name"]), user_key(event["name"])))
        keys.update(event.get("_trait_keys", ()))
    resolver = Resolver.load(keys)
    for event in fresh:
        trait_keys = event.get("_trait_keys", [])
        event["contactId"] = resolver.resolve(event, trait_keys=trait_keys, seen_at=event["timestamp"])
        if trait_keys:
            event["_refused"] = resolver.refused_keys(event["contactId"], trait_keys)

    warnings = [
        IngestWarning(code=c.code, detail=c.detail[:300], message_id=c.message_id) for c in resolver.conflicts
    ]
    for event in fresh:
        event["contactId"] = resolver.find(event["contactId"])
        for trait, error in event.get("_trait_errors", {}).items():
            warnings.append(
                IngestWarning(
                    source_id=event["sourceId"],
                    code=WarningCode.BAD_FIELD,
                    detail=f"trait {trait}: {error}"[:300],
                    message_id=event["messageId"],
                )
            )
    if warnings:
        IngestWarning.objects.bulk_create(warnings)

    effects_apply(
        EffectInput(
            events=fresh,
            new_visitors=list(resolver.pending.values()),
            links=[(resolver.find(cid), key) for key, cid in resolver.links.items()],
            channels=lookups.channels,
        )
    )
    _activity_publish(fresh)
    done.events = len(fresh)
    return done


def _activity_publish(events: list[dict[str, Any]]) -> None:
    """Tell the domains above (segments) which contacts' activity changed, and how."""
    changes: dict[UUID, set[str]] = defaultdict(set)
    for event in events:
        contact_id = event.get("contactId")
        if contact_id is None:
            continue
        kind, name = event["type"], event["name"] or ""
        keys = changes[contact_id]
        keys.update((f"event:{kind}:*", f"event:{kind}:{name}"))
        if kind in ("page", "screen"):
            keys.add("activity:touch")
        elif name == ORDER_COMPLETED:
            keys.add("purchases")
    if changes:
        publish(
            ActivityRecorded(
                workspace_id=UUID(str(active_workspace_id())),
                changes={contact_id: frozenset(keys) for contact_id, keys in changes.items()},
            )
        )
