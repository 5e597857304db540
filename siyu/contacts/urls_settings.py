from django.urls import URLPattern, URLResolver, path

from siyu.contacts import views_settings as views

app_name = "contact_settings"
urlpatterns: list[URLPattern | URLResolver] = [
    path("tags/", views.tags, name="tags"),
    path("tags/groups/add/", views.tag_group_add, name="tag_group_add"),
    path("tags/groups/<uuid:group_id>/edit/", views.tag_group_edit, name="tag_group_edit"),
    path("tags/groups/<uuid:group_id>/delete/", views.tag_group_delete_view, name="tag_group_delete"),
    path("tags/groups/<uuid:group_id>/tags/add/", views.tag_add, name="tag_add"),
    path("tags/<uuid:tag_id>/edit/", views.tag_edit, name="tag_edit"),
    path("tags/<uuid:tag_id>/delete/", views.tag_delete_view, name="tag_delete"),
    path("fields/", views.fields, name="fields"),
    path("fields/add/", views.field_add, name="field_add"),
    path("fields/<uuid:field_id>/edit/", views.field_edit, name="field_edit"),
    path("fields/<uuid:field_id>/delete/", views.field_delete, name="field_delete"),
    path("channels/", views.channels, name="channels"),
    path("channels/add/", views.channel_add, name="channel_add"),
    path("channels/<uuid:channel_id>/edit/", views.channel_edit, name="channel_edit"),
]
