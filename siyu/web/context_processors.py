from typing import Any

from django.http import HttpRequest


def workspace(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    return {
        "actor": actor,
        "current_member": actor.member if actor else None,
        "memberships": getattr(request, "memberships", []),
    }
