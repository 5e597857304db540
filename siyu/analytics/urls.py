from django.urls import URLPattern, URLResolver, path
from django.views.generic import RedirectView

from siyu.analytics import views

app_name = "analytics"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", RedirectView.as_view(pattern_name="analytics:channels", query_string=True), name="index"),
    path("channels/", views.channels, name="channels"),
    path("channels/csv/", views.channels_csv, name="channels_csv"),
    path("cohorts/", views.cohorts, name="cohorts"),
    path("cohorts/csv/", views.cohorts_csv, name="cohorts_csv"),
    path("funnel/", views.funnel, name="funnel"),
    path("funnel/csv/", views.funnel_csv, name="funnel_csv"),
    path("segments/", views.segments, name="segments"),
    path("segments/csv/", views.segments_csv, name="segments_csv"),
    path("content/", views.content, name="content"),
    path("content/csv/", views.content_csv, name="content_csv"),
    path("spend/", views.spend, name="spend"),
    path("spend/<uuid:spend_id>/delete/", views.spend_delete, name="spend_delete"),
]
