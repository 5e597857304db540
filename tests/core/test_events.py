from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest

from siyu.core import events
from siyu.core.events import DomainEvent, gathered, publish, subscribe_batched


@dataclass(frozen=True)
class Poked(DomainEvent):
    n: int


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    monkeypatch.setattr(events, "_batch_handlers", type(events._batch_handlers)(list))
    calls: list[list[int]] = []

    def handler(batch: Sequence[Any]) -> None:
        calls.append([event.n for event in batch])

    subscribe_batched([Poked], handler)
    return calls


def test_batch_handlers_get_each_event_at_once_outside_a_gathering(received: list[list[int]]) -> None:
    workspace = uuid4()
    publish(Poked(workspace_id=workspace, n=1))
    publish(Poked(workspace_id=workspace, n=2))
    assert received == [[1], [2]]


def test_a_gathering_delivers_its_events_together_when_it_ends(received: list[list[int]]) -> None:
    workspace = uuid4()
    with gathered():
        publish(Poked(workspace_id=workspace, n=1))
        publish(Poked(workspace_id=workspace, n=2))
        assert received == []
    assert received == [[1, 2]]


def _publish_then_fail() -> None:
    with gathered():
        publish(Poked(workspace_id=uuid4(), n=1))
        raise RuntimeError("boom")


def test_a_failed_gathering_delivers_nothing(received: list[list[int]]) -> None:
    with pytest.raises(RuntimeError):
        _publish_then_fail()
    assert received == []
