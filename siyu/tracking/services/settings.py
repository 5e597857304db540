"""A workspace's tracking settings: stage rules, key pages, raw-event retention, session timeout."""

from collections.abc import Mapping, Sequence

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.contacts.models import Stage
from siyu.core.errors import ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.models import TrackingSettings

MAX_STAGE_RULES = 100
MAX_EVENT_NAME_LENGTH = 200  # the stored event name's length
MAX_RADAR_PATHS = 50
MAX_PATH_LENGTH = 200
RETENTION_DAYS = (1, 3650)
SESSION_TIMEOUT_MINUTES = (1, 1440)


def tracking_settings_get() -> TrackingSettings:
    """The active workspace's settings; the defaults (unsaved) when it never changed them."""
    found = TrackingSettings.objects.first()
    return found if found is not None else TrackingSettings()


def _stage_rules_clean(stage_rules: Mapping[str, str]) -> dict[str, str]:
    if len(stage_rules) > MAX_STAGE_RULES:
        raise ValidationError(
            _("At most %(count)s stage rules.") % {"count": MAX_STAGE_RULES}, fields={"stage_rules": ""}
        )
    cleaned: dict[str, str] = {}
    for raw_name, stage in stage_rules.items():
        name = str(raw_name).strip()
        if not name or len(name) > MAX_EVENT_NAME_LENGTH:
            raise ValidationError(
                _("An event name has 1 to %(max)s characters.") % {"max": MAX_EVENT_NAME_LENGTH},
                fields={"stage_rules": ""},
            )
        if stage not in Stage.values:
            raise ValidationError(
                _("“%(stage)s” is not a lifecycle stage; choose one of: %(stages)s.")
                % {"stage": str(stage)[:40], "stages": ", ".join(Stage.values)},
                fields={"stage_rules": ""},
            )
        if name in cleaned:
            raise ValidationError(
                _("The event “%(name)s” has two rules; keep one.") % {"name": name},
                fields={"stage_rules": ""},
            )
        cleaned[name] = str(stage)
    return cleaned


def _radar_paths_clean(radar_paths: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in radar_paths:
        path = raw.strip()
        if not path:
            continue
        if not path.startswith("/") or len(path) > MAX_PATH_LENGTH or any(c.isspace() for c in path):
            raise ValidationError(
                _(
                    "“%(path)s” is not a path prefix: start it with / and leave out the host and spaces, e.g. /pricing."
                )
                % {"path": path[:100]},
                fields={"radar_paths": ""},
            )
        if path not in cleaned:
            cleaned.append(path)
    if len(cleaned) > MAX_RADAR_PATHS:
        raise ValidationError(
            _("At most %(count)s key pages.") % {"count": MAX_RADAR_PATHS}, fields={"radar_paths": ""}
        )
    return cleaned


def _bounded(value: int, *, field: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high},
            fields={field: ""},
        )
    return value


@transaction.atomic
def tracking_settings_update(
    *,
    actor: Actor,
    stage_rules: Mapping[str, str],
    radar_paths: Sequence[str],
    retention_days: int,
    session_timeout_minutes: int,
) -> TrackingSettings:
    actor.require(Permission.SOURCES_MANAGE)
    values = {
        "stage_rules": _stage_rules_clean(stage_rules),
        "radar_paths": _radar_paths_clean(radar_paths),
        "retention_days": _bounded(retention_days, field="retention_days", bounds=RETENTION_DAYS),
        "session_timeout_minutes": _bounded(
            session_timeout_minutes, field="session_timeout_minutes", bounds=SESSION_TIMEOUT_MINUTES
        ),
    }
    current = TrackingSettings.objects.select_for_update().first()
    if current is None:
        return TrackingSettings.objects.create(**values)
    for name, value in values.items():
        setattr(current, name, value)
    current.save()
    return current
