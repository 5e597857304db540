from django.urls import URLPattern, URLResolver, path

from siyu.tracking.views import sources as views

app_name = "tracking_settings"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.settings, name="settings"),
    path("sources/", views.sources, name="sources"),
    path("sources/add/", views.source_add, name="source_add"),
    path("sources/<uuid:source_id>/", views.source_detail, name="source_detail"),
    path("sources/<uuid:source_id>/edit/", views.source_edit, name="source_edit"),
    path("sources/<uuid:source_id>/rotate-key/", views.source_rotate, name="source_rotate"),
    path("sources/<uuid:source_id>/deactivate/", views.source_deactivate_view, name="source_deactivate"),
    path("sources/<uuid:source_id>/activate/", views.source_activate_view, name="source_activate"),
]
