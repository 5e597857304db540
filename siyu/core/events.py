"""Domain events: how a lower domain tells higher ones what happened without importing them.

A service publishes a frozen dataclass; domains that care subscribe a handler when their app loads.
Handlers run synchronously inside the publisher's transaction, so what they write commits or rolls
back with it; work that may be slow or fail on its own belongs in `transaction.on_commit` or a task.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID


@dataclass(frozen=True)
class DomainEvent:
    workspace_id: UUID


_E = TypeVar("_E", bound=DomainEvent)
_handlers: defaultdict[type[DomainEvent], list[Callable[[Any], None]]] = defaultdict(list)


def subscribe(event_type: type[_E], handler: Callable[[_E], None]) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


_batch_handlers: defaultdict[type[DomainEvent], list[Callable[[Sequence[Any]], None]]] = defaultdict(list)
_gathered: ContextVar[list[DomainEvent] | None] = ContextVar("gathered_events", default=None)


def subscribe_batched(
    event_types: Sequence[type[DomainEvent]], handler: Callable[[Sequence[Any]], None]
) -> None:
    """Like `subscribe`, for handlers that can merge many events into one pass. Outside `gathered()`
    the handler gets each event alone, at once; inside, it gets all of them together when the block
    ends (still inside the publisher's transaction)."""
    for event_type in event_types:
        if handler not in _batch_handlers[event_type]:
            _batch_handlers[event_type].append(handler)


def publish(event: DomainEvent) -> None:
    for handler in _handlers[type(event)]:
        handler(event)
    if _batch_handlers[type(event)]:
        gathered = _gathered.get()
        if gathered is None:
            for batch_handler in _batch_handlers[type(event)]:
                batch_handler([event])
        else:
            gathered.append(event)


@contextmanager
def gathered() -> Iterator[None]:
    """Hold events for batch handlers until the block ends, then deliver them in one call per handler
    (the event processor wraps each chunk of events in this). Nothing is delivered if the block fails."""
    if _gathered.get() is not None:
        yield
        return
    events: list[DomainEvent] = []
    token = _gathered.set(events)
    try:
        yield
    finally:
        _gathered.reset(token)
    while events:
        pending, events = events, []
        token = _gathered.set(events)  # what the handlers publish in turn is gathered for a next round
        try:
            handlers: list[Callable[[Sequence[Any]], None]] = []
            for event in pending:
                for handler in _batch_handlers[type(event)]:
                    if handler not in handlers:
                        handlers.append(handler)
            for handler in handlers:
                handler([event for event in pending if handler in _batch_handlers[type(event)]])
        finally:
            _gathered.reset(token)


def has_subscribers(event_type: type[DomainEvent]) -> bool:
    """Whether publishing would reach anyone (lets a publisher skip gathering a large payload)."""
    return bool(_handlers[event_type] or _batch_handlers[event_type])
