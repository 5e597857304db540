from django.urls import URLPattern, URLResolver, path

from siyu.tracking.views import share as views

app_name = "share"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:token>/", views.share_open, name="open"),
    path("<str:token>/cover/", views.share_cover, name="cover"),
    path("<str:token>/poster/", views.share_poster, name="poster"),
    path("<str:token>/file/", views.share_file, name="file"),
]
