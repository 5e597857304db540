from django.urls import URLPattern, URLResolver, path

from siyu.tracking.views import sdk

app_name = "sdk"
urlpatterns: list[URLPattern | URLResolver] = [
    path("siyu.js", sdk.script, name="script"),
]
