"""A workspace's tracking settings: defaults, validation, the settings page, and tenancy."""

import pytest
from django.urls import reverse

from siyu.contacts.models import Stage
from siyu.core.errors import PermissionDenied, ValidationError
from siyu.core.tenancy import workspace_scope
from siyu.tracking.models import TrackingSettings
from siyu.tracking.models.events import default_radar_paths, default_stage_rules
from siyu.tracking.services.settings import tracking_settings_get, tracking_settings_update
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
GOOD = {
    "stage_rules": {"Order Completed": Stage.CUSTOMER, "Webinar Attended": Stage.ENGAGED},
    "radar_paths": ["/pricing", " /demo ", "/pricing"],
    "retention_days": 90,
    "session_timeout_minutes": 20,
}


def rules_post(rows: list[tuple[str, str, bool]], **fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "rules-TOTAL_FORMS": str(len(rows)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "radar_paths": "/pricing",
        "retention_days": "365",
        "session_timeout_minutes": "30",
    }
    for index, (event, stage, delete) in enumerate(rows):
        data[f"rules-{index}-event"] = event
        data[f"rules-{index}-stage"] = stage
        if delete:
            data[f"rules-{index}-DELETE"] = "on"
    data.update(fields)
    return data


def test_a_workspace_without_settings_gets_the_defaults_unsaved(workspace):
    settings = tracking_settings_get()
    assert settings.pk is not None  # a default id, but…
    assert not TrackingSettings.objects.exists()  # …nothing stored
    assert settings.stage_rules == default_stage_rules()
    assert settings.radar_paths == default_radar_paths()
    assert (settings.retention_days, settings.session_timeout_minutes) == (365, 30)


def test_update_stores_clean_values_once_per_workspace(admin_actor, other_workspace):
    tracking_settings_update(actor=admin_actor, **GOOD)  # type: ignore[arg-type]
    tracking_settings_update(actor=admin_actor, **{**GOOD, "retention_days": 30})  # type: ignore[arg-type]
    stored = TrackingSettings.objects.get()
    assert stored.stage_rules == {"Order Completed": "customer", "Webinar Attended": "engaged"}
    assert stored.radar_paths == ["/pricing", "/demo"]
    assert (stored.retention_days, stored.session_timeout_minutes) == (30, 20)
    assert tracking_settings_get() == stored
    with workspace_scope(other_workspace.id):  # the other workspace still has the defaults
        assert tracking_settings_get().retention_days == 365
        assert not TrackingSettings.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"stage_rules": {"Order Completed": "vip"}}, "stage_rules", "“vip” is not a lifecycle stage"),
        ({"stage_rules": {" ": "customer"}}, "stage_rules", "An event name has 1 to 200 characters."),
        ({"stage_rules": {"x" * 201: "customer"}}, "stage_rules", "An event name has 1 to 200 characters."),
        ({"stage_rules": {"A": "engaged", "A ": "customer"}}, "stage_rules", "The event “A” has two rules"),
        ({"radar_paths": ["pricing"]}, "radar_paths", "“pricing” is not a path prefix"),
        ({"radar_paths": ["https://x.com/pricing"]}, "radar_paths", "is not a path prefix"),
        ({"radar_paths": ["/a b"]}, "radar_paths", "is not a path prefix"),
        ({"radar_paths": [f"/{i}" for i in range(51)]}, "radar_paths", "At most 50 key pages."),
        ({"retention_days": 0}, "retention_days", "Enter a whole number from 1 to 3650."),
        ({"retention_days": 3651}, "retention_days", "from 1 to 3650"),
        ({"session_timeout_minutes": -5}, "session_timeout_minutes", "from 1 to 1440"),
        ({"session_timeout_minutes": 1441}, "session_timeout_minutes", "from 1 to 1440"),
        ({"session_timeout_minutes": True}, "session_timeout_minutes", "from 1 to 1440"),
    ],
)
def test_bad_values_are_refused_with_a_reason_and_nothing_is_stored(
    admin_actor, change, field, message, english
):
    with pytest.raises(ValidationError) as refused:
        tracking_settings_update(actor=admin_actor, **{**GOOD, **change})
    assert message in refused.value.message
    assert list(refused.value.fields) == [field]
    assert not TrackingSettings.objects.exists()


def test_only_source_managers_change_settings(rep_actor):
    with pytest.raises(PermissionDenied):
        tracking_settings_update(actor=rep_actor, **GOOD)  # type: ignore[arg-type]


# The page ------------------------------------------------------------------------------------------


def test_the_page_shows_the_rules_as_rows_and_saves_edits(admin, rep):
    client = client_for(admin)
    html = client.get(reverse("tracking_settings:settings")).content.decode()
    assert 'value="Order Completed"' in html
    assert 'value="Member Joined"' in html
    assert "/pricing\n/product" in html
    assert client_for(rep).get(reverse("tracking_settings:settings")).status_code == 403

    data = rules_post(
        [
            ("Order Completed", "customer", False),
            ("Signed Up", "engaged", True),  # removed
            ("Webinar Attended", "follower", False),  # added in an empty row
            ("", "", False),  # an empty row is ignored
        ],
        radar_paths="/pricing\n/demo\n",
        retention_days="180",
        session_timeout_minutes="45",
    )
    saved = client.post(reverse("tracking_settings:settings"), data)
    assert saved.status_code == 302
    stored = TrackingSettings.objects.get()
    assert stored.stage_rules == {"Order Completed": "customer", "Webinar Attended": "follower"}
    assert stored.radar_paths == ["/pricing", "/demo"]
    assert (stored.retention_days, stored.session_timeout_minutes) == (180, 45)
    page = client.get(saved["Location"]).content.decode()
    assert "Tracking settings were saved." in page
    assert 'value="Webinar Attended"' in page
    assert 'value="Signed Up"' not in page


def test_the_page_explains_what_was_wrong_and_keeps_the_old_settings(admin):
    client = client_for(admin)
    missing_stage = client.post(
        reverse("tracking_settings:settings"), rules_post([("Order Completed", "", False)]), headers=HTMX
    )
    assert missing_stage.status_code == 200
    assert "Choose the stage this event moves a contact up to." in missing_stage.content.decode()
    twice = client.post(
        reverse("tracking_settings:settings"),
        rules_post([("Paid", "customer", False), ("Paid", "member", False)]),
    )
    assert twice.status_code == 422
    assert "Each event may have one rule; these appear twice: Paid." in twice.content.decode()
    bad_path = client.post(
        reverse("tracking_settings:settings"), rules_post([], radar_paths="pricing"), headers=HTMX
    ).content.decode()
    assert "“pricing” is not a path prefix" in bad_path
    assert 'id="tracking-settings-section"' in bad_path
    too_long = client.post(reverse("tracking_settings:settings"), rules_post([], retention_days="99999"))
    assert too_long.status_code == 422
    assert "Ensure this value is less than or equal to 3650." in too_long.content.decode()
    assert not TrackingSettings.objects.exists()


def test_each_workspace_edits_its_own_settings(admin, other_workspace):
    with workspace_scope(other_workspace.id):
        TrackingSettings.objects.create(
            retention_days=7, radar_paths=["/外部"], stage_rules={"外部事件": "member"}
        )
    client = client_for(admin)
    html = client.get(reverse("tracking_settings:settings")).content.decode()
    assert "外部" not in html
    client.post(reverse("tracking_settings:settings"), rules_post([("Paid", "customer", False)]))
    assert TrackingSettings.objects.get().stage_rules == {"Paid": "customer"}
    with workspace_scope(other_workspace.id):
        theirs = TrackingSettings.objects.get()
        assert (theirs.retention_days, theirs.stage_rules) == (7, {"外部事件": "member"})
