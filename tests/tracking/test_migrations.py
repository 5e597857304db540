"""Schema changes that carry data: the events' contexts move to their own table and back; their numeric
properties are copied beside them."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from siyu.core.ids import uuid7

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tracking", "0003_order_import_jobs")]
AFTER = [("tracking", "0004_event_context")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _events(apps: Any, workspace: Any, fields: dict[str, dict[str, Any]], *, column: str = "context") -> None:
    source = apps.get_model("tracking", "Source").objects.create(
        workspace=workspace, name=f"网站 {workspace.slug}", write_key=f"key-{workspace.slug}"
    )
    at = datetime(2026, 11, 1, tzinfo=UTC)
    for message_id, value in fields.items():
        apps.get_model("tracking", "Event").objects.create(
            workspace=workspace,
            source=source,
            message_id=message_id,
            type="track",
            name="Article Read",
            contact_id=uuid7(),
            timestamp=at,
            received_at=at,
            **{column: value},
        )


def test_contexts_move_beside_their_events_and_back() -> None:
    try:
        old = _migrate(BEFORE)
        workspaces = old.get_model("tenancy", "Workspace").objects
        ours, theirs = workspaces.create(name="甲", slug="jia"), workspaces.create(name="乙", slug="yi")
        _events(old, ours, {"with": {"page": {"path": "/a"}, "ip": "1.2.3.4"}, "without": {}})
        _events(old, theirs, {"theirs": {"page": {"path": "/b"}}})

        new = _migrate(AFTER)
        moved = new.get_model("tracking", "EventContext").objects
        assert {(c.event.message_id, c.workspace_id): c.context for c in moved.select_related("event")} == {
            ("with", ours.id): {"page": {"path": "/a"}, "ip": "1.2.3.4"},
            ("theirs", theirs.id): {"page": {"path": "/b"}},
        }

        back = _migrate(BEFORE)
        restored = back.get_model("tracking", "Event").objects
        assert dict(restored.values_list("message_id", "context")) == {
            "with": {"page": {"path": "/a"}, "ip": "1.2.3.4"},
            "without": {},
            "theirs": {"page": {"path": "/b"}},
        }
    finally:
        _migrate([("tracking", _latest("tracking"))])


def test_numeric_properties_of_stored_events_are_copied_beside_them() -> None:
    try:
        old = _migrate([("tracking", "0005_activity_last_order_index")])
        workspaces = old.get_model("tenancy", "Workspace").objects
        ours, theirs = workspaces.create(name="甲", slug="jia"), workspaces.create(name="乙", slug="yi")
        odd = {"flag": True, "text": "12", "nested": {"n": 1}, "list": [1], "none": None, "k" * 65: 1}
        _events(
            old, ours, {"read": {"dwell_seconds": 42, "ratio": 0.5, **odd}, "bare": {}}, column="properties"
        )
        _events(old, theirs, {"theirs": {"dwell_seconds": -7}}, column="properties")

        new = _migrate([("tracking", "0006_event_numbers")])
        events = {e.id: e for e in new.get_model("tracking", "Event").objects.all()}
        copied = {
            (events[n.event_id].message_id, n.key, n.value, n.workspace_id)
            for n in new.get_model("tracking", "EventNumber").objects.all()
        }
        assert copied == {
            ("read", "dwell_seconds", 42.0, ours.id),
            ("read", "ratio", 0.5, ours.id),
            ("theirs", "dwell_seconds", -7.0, theirs.id),
        }
        _assert_copied_from_their_events(new.get_model("tracking", "EventNumber").objects.all(), events)
    finally:
        _migrate([("tracking", _latest("tracking"))])


def test_short_texts_of_stored_events_are_copied_beside_them() -> None:
    try:
        old = _migrate([("tracking", "0007_eventnumber_by_contact")])
        workspaces = old.get_model("tenancy", "Workspace").objects
        ours, theirs = workspaces.create(name="甲", slug="jia"), workspaces.create(name="乙", slug="yi")
        odd = {"n": 1, "flag": True, "list": ["护肤"], "nested": {"c": "护肤"}, "none": None, "k" * 65: "x"}
        read = {"category": "护肤", "empty": "", "longest": "长" * 64, "too_long": "长" * 65, **odd}
        _events(old, ours, {"read": read, "bare": {}}, column="properties")
        _events(old, theirs, {"theirs": {"category": "彩妆"}}, column="properties")

        new = _migrate([("tracking", "0008_event_texts")])
        events = {e.id: e for e in new.get_model("tracking", "Event").objects.all()}
        texts = list(new.get_model("tracking", "EventText").objects.all())
        assert {(events[t.event_id].message_id, t.key, t.value, t.workspace_id) for t in texts} == {
            ("read", "category", "护肤", ours.id),
            ("read", "longest", "长" * 64, ours.id),
            ("theirs", "category", "彩妆", theirs.id),
        }
        _assert_copied_from_their_events(texts, events)
    finally:
        _migrate([("tracking", _latest("tracking"))])


def _assert_copied_from_their_events(rows: Any, events: dict[Any, Any]) -> None:
    for row in rows:
        event = events[row.event_id]
        assert (row.contact_id, row.type, row.name, row.timestamp) == (
            event.contact_id,
            event.type,
            event.name,
            event.timestamp,
        )


def _latest(app: str) -> str:
    executor = MigrationExecutor(connection)
    return str(max(name for label, name in executor.loader.graph.leaf_nodes() if label == app))
