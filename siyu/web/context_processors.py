from typing import Any

from django.http import HttpRequest

from siyu.web.navigation import navigation_for


def workspace(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    member = actor.member if actor else None
    memberships = getattr(request, "memberships", [])
    return {
        "actor": actor,
        "current_member": member,
        "current_workspace": member.workspace if member else None,
        "memberships": memberships,
        "other_memberships": [m for m in memberships if member is None or m.id != member.id],
        "navigation": navigation_for(actor=actor, path=request.path) if member else [],
    }
