from django.urls import URLPattern, URLResolver, path

from siyu.tracking.ingest.gateway import ingest

app_name = "ingest"
urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{kind}", ingest, {"kind": kind}, name=kind)
    for kind in ("batch", "import", "track", "page", "screen", "identify", "group", "alias")
]
