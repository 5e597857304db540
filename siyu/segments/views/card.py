"""The segment card on a contact's page: RFM score, the segments it is in, its latest entries and exits."""

from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from siyu.contacts.selectors import contact_get_for
from siyu.core.web import ActorRequest, actor_required
from siyu.segments.selectors.rfm import rfm_for_contact, rfm_settings
from siyu.segments.selectors.segments import contact_segments, segment_changes
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

RECENT_CHANGES = 10


@require_GET
@actor_required(Permission.SEGMENTS_READ)
def contact_card_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    """An HTML fragment; a contact the actor may not see (or of another workspace) is 404."""
    contact = contact_get_for(request.actor, contact_id)
    context = {
        "contact": contact,
        "rfm": rfm_for_contact(contact_id=contact.id),
        "rfm_ready": rfm_settings() is not None,
        "memberships": contact_segments(contact_id=contact.id),
        "changes": list(segment_changes(contact_id=contact.id).select_related("segment")[:RECENT_CHANGES]),
    }
    return render(request, "segments/partials/contact_card.html", context)
