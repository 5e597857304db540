"""Domain events: how a lower domain tells higher ones what happened without importing them.

A service publishes a frozen dataclass; domains that care subscribe a handler when their app loads.
Handlers run synchronously inside the publisher's transaction, so what they write commits or rolls
back with it; work that may be slow or fail on its own belongs in `transaction.on_commit` or a task.
"""

from collections import defaultdict
from collections.abc import Callable
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


def publish(event: DomainEvent) -> None:
    for handler in _handlers[type(event)]:
        handler(event)


def has_subscribers(event_type: type[DomainEvent]) -> bool:
    """Whether publishing would reach anyone (lets a publisher skip gathering a large payload)."""
    return bool(_handlers[event_type])
