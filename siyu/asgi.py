import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")

application = get_asgi_application()

# Load the URL map (and with it every view module) now, not on the first request a worker serves.
get_resolver().url_patterns  # noqa: B018
