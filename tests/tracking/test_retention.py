from datetime import timedelta

import pytest
from django.core.management import call_command

from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tracking.models import (
    ContactActivity,
    Event,
    EventContext,
    EventNumber,
    EventText,
    InboundBatch,
    TrackingSettings,
)
from siyu.tracking.services.retention import tracking_prune
from tests.tracking.events import make_source, page, send_and_process

pytestmark = pytest.mark.django_db


def test_old_raw_events_go_and_counters_stay(workspace, other_workspace):
    TrackingSettings.objects.create(retention_days=30)
    source = make_source()
    numbered = {"scroll_depth": 50, "tab": "价格"}
    send_and_process(
        source,
        [
            page("anon-1", messageId="old", properties=numbered),
            page("anon-1", messageId="new", properties=numbered),
        ],
    )
    Event.objects.filter(message_id="old").update(received_at=now() - timedelta(days=31))
    InboundBatch.objects.update(processed_at=now() - timedelta(days=2))
    with workspace_scope(other_workspace.id):
        theirs = make_source(name="他")
        send_and_process(theirs, [page("anon-9", messageId="theirs", properties=numbered)])
        Event.objects.update(received_at=now() - timedelta(days=31))  # within their default 365 days

    pruned = tracking_prune()

    assert (pruned.events, pruned.batches) == (1, 1)
    assert list(Event.objects.values_list("message_id", flat=True)) == ["new"]
    assert list(EventContext.objects.values_list("event__message_id", flat=True)) == ["new"]
    assert list(EventNumber.objects.values_list("event__message_id", flat=True)) == ["new"]
    assert set(EventText.objects.values_list("event__message_id", flat=True)) == {"new"}
    assert ContactActivity.objects.get().page_views == 2
    assert not InboundBatch.objects.exists()
    with workspace_scope(other_workspace.id):
        assert Event.objects.count() == 1
        assert EventContext.objects.count() == 1
        assert EventNumber.objects.count() == 1
        assert set(EventText.objects.values_list("event__message_id", flat=True)) == {"theirs"}
        assert InboundBatch.objects.count() == 1  # processed a moment ago: kept for a day


def test_the_prune_command_reports_what_it_deleted(workspace, capsys):
    call_command("prune_events")
    assert "deleted 0 events" in capsys.readouterr().out
