"""Template context for every page: the acting member's radar badge (unread alerts, latest version)."""

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from siyu.tracking.selectors.radar import notification_badge


def radar(request: HttpRequest) -> dict[str, Any]:
    """`radar.unread` and `radar.version`, queried (once) only if the page uses them."""
    actor = getattr(request, "actor", None)
    if actor is None or getattr(actor, "member", None) is None:
        return {}
    return {"radar": SimpleLazyObject(lambda: notification_badge(actor=actor))}
