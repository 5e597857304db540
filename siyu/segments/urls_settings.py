from django.urls import URLPattern, URLResolver, path

from siyu.segments.views import rfm

app_name = "segment_settings"
urlpatterns: list[URLPattern | URLResolver] = [
    path("rfm/", rfm.rfm_view, name="rfm"),
    path("rfm/refresh/", rfm.rfm_refresh_view, name="rfm_refresh"),
]
