from django.urls import URLPattern, URLResolver, path

from siyu.contacts import views

app_name = "contacts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.contact_list_view, name="list"),
    path("new/", views.contact_create_view, name="create"),
    path("bulk/", views.contact_bulk, name="bulk"),
    path("views/", views.saved_view_save, name="saved_view_create"),
    path("views/<uuid:view_id>/delete/", views.saved_view_remove, name="saved_view_delete"),
    path("<uuid:contact_id>/", views.contact_detail_view, name="detail"),
    path("<uuid:contact_id>/edit/", views.contact_edit_view, name="edit"),
    path("<uuid:contact_id>/stage/", views.contact_stage_view, name="stage"),
    path("<uuid:contact_id>/owner/", views.contact_owner_view, name="owner"),
    path("<uuid:contact_id>/identities/", views.identity_add_view, name="identity_add"),
    path(
        "<uuid:contact_id>/identities/<uuid:identity_id>/delete/",
        views.identity_remove_view,
        name="identity_remove",
    ),
    path("<uuid:contact_id>/tags/", views.tag_add_view, name="tag_add"),
    path("<uuid:contact_id>/tags/<uuid:tag_id>/delete/", views.tag_remove_view, name="tag_remove"),
    path("<uuid:contact_id>/follow-ups/", views.follow_up_add_view, name="follow_up_add"),
    path(
        "<uuid:contact_id>/follow-ups/<uuid:follow_up_id>/done/",
        views.follow_up_done_view,
        name="follow_up_done",
    ),
    path("<uuid:contact_id>/reveal-phone/", views.reveal_phone_view, name="reveal_phone"),
    path("<uuid:contact_id>/merge/", views.contact_merge_view, name="merge"),
    path("<uuid:contact_id>/delete/", views.contact_delete_view, name="delete"),
]
