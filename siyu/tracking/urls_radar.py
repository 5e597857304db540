from django.urls import URLPattern, URLResolver, path

from siyu.tracking.views import radar as views

app_name = "radar"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.notifications, name="notifications"),
    path("read/", views.mark_read, name="mark_read"),
    path("stream/", views.stream, name="stream"),
    path("live/", views.live, name="live"),
    path("live/data/", views.live_data, name="live_data"),
    path("contacts/<uuid:contact_id>/activity/", views.contact_activity_view, name="contact_activity"),
    path("contacts/<uuid:contact_id>/stream/", views.contact_stream, name="contact_stream"),
]
