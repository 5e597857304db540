"""The site's URLs with the analytics pages and API mounted as the lead mounts them (analytics/ and
/api/v1/analytics/), for tests that run before or after those includes land in siyu/urls.py and
siyu/api/api.py: whatever is already mounted is used as is."""

from django.urls import URLPattern, URLResolver, include, path

from siyu.analytics.api import analytics_router
from siyu.api.api import SiyuAPI, api
from siyu.api.errors import install_error_handlers
from siyu.tenancy.api import API_AUTH
from siyu.urls import urlpatterns as site_patterns


def _mounted(namespace: str) -> bool:
    return any(isinstance(p, URLResolver) and p.namespace == namespace for p in site_patterns)


def _api_has_router() -> bool:
    return any(router is analytics_router for _prefix, router in api._routers)


extra: list[URLPattern | URLResolver] = []
if not _api_has_router():
    test_api = SiyuAPI(
        title="Siyu API (analytics tests)", version="1.0.0", urls_namespace="analytics_api", auth=API_AUTH
    )
    install_error_handlers(test_api)
    test_api.add_router("/analytics", analytics_router)
    extra.append(path("api/v1/", test_api.urls))
if not _mounted("analytics"):
    extra.append(path("analytics/", include("siyu.analytics.urls")))

urlpatterns: list[URLPattern | URLResolver] = [*extra, *site_patterns]
