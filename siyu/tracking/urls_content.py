from django.urls import URLPattern, URLResolver, path

from siyu.tracking.views import content as views

app_name = "content"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.content_library, name="list"),
    path("add/", views.content_add, name="add"),
    path("preview/", views.body_preview, name="preview"),
    path("categories/", views.categories, name="categories"),
    path("performance/", views.performance, name="performance"),
    path("<uuid:content_id>/", views.content_detail, name="detail"),
    path("<uuid:content_id>/edit/", views.content_edit, name="edit"),
    path("<uuid:content_id>/delete/", views.content_delete_view, name="delete"),
    path("<uuid:content_id>/qr/", views.content_qr, name="qr"),
    path("<uuid:content_id>/poster/", views.content_poster, name="poster"),
    path("<uuid:content_id>/file/", views.content_file, name="file"),
    path("<uuid:content_id>/cover/", views.content_cover, name="cover"),
]
