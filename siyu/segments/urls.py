from django.urls import URLPattern, URLResolver, path

from siyu.segments.views import builder, card, segments

app_name = "segments"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", segments.segment_list_view, name="list"),
    path("new/", segments.segment_create_view, name="create"),
    path("preview/", builder.preview, name="preview"),
    path("event-properties/", builder.event_properties, name="event_properties"),
    path("contacts/<uuid:contact_id>/card/", card.contact_card_view, name="contact_card"),
    path("<uuid:segment_id>/", segments.segment_detail_view, name="detail"),
    path("<uuid:segment_id>/edit/", segments.segment_edit_view, name="edit"),
    path("<uuid:segment_id>/status/", segments.segment_status_view, name="status"),
    path("<uuid:segment_id>/members/", segments.segment_members_view, name="members"),
    path("<uuid:segment_id>/history/", segments.segment_history_view, name="history"),
    path("<uuid:segment_id>/builds/", segments.segment_builds_view, name="builds"),
    path("<uuid:segment_id>/lookup/", segments.segment_lookup_view, name="lookup"),
    path("<uuid:segment_id>/rebuild/", segments.segment_rebuild_view, name="rebuild"),
    path("<uuid:segment_id>/snapshot/", segments.segment_snapshot_view, name="snapshot"),
    path("<uuid:segment_id>/delete/", segments.segment_delete_view, name="delete"),
    path("<uuid:segment_id>/list-members/", segments.list_members_view, name="list_members"),
]
