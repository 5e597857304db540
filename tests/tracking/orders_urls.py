"""URLs for the orders tests: the project's, plus the orders pages and API while they are not mounted yet.

The orders views live at `orders/` (namespace "orders") and the router at `/api/v1/orders`; once the
project mounts them, this module adds nothing.
"""

from django.urls import URLPattern, URLResolver, include, path

from siyu import urls as project_urls
from siyu.api.api import SiyuAPI, api
from siyu.api.errors import install_error_handlers
from siyu.tenancy.api import API_AUTH
from siyu.tracking.api import orders_router

urlpatterns: list[URLPattern | URLResolver] = []
if not any(router is orders_router for _prefix, router in api._routers):
    orders_api = SiyuAPI(urls_namespace="orders_api_test", auth=API_AUTH, docs_url=None, openapi_url=None)
    install_error_handlers(orders_api)
    orders_api.add_router("/orders", orders_router)
    urlpatterns.append(path("api/v1/", orders_api.urls))
if not any(getattr(pattern, "namespace", None) == "orders" for pattern in project_urls.urlpatterns):
    urlpatterns.append(path("orders/", include("siyu.tracking.urls_orders")))
urlpatterns += project_urls.urlpatterns
