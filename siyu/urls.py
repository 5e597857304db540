from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("siyu.api.urls")),
    path("contacts/", include("siyu.contacts.urls")),
    path("imports/", include("siyu.contacts.urls_import")),
    path("settings/contacts/", include("siyu.contacts.urls_settings")),
    path("settings/tracking/", include("siyu.tracking.urls_settings")),
    path("settings/segments/", include("siyu.segments.urls_settings")),
    path("settings/", include("siyu.tenancy.urls")),
    path("v1/", include("siyu.tracking.urls_ingest")),  # Segment-compatible ingestion
    path("sdk/", include("siyu.tracking.urls_sdk")),
    path("content/", include("siyu.tracking.urls_content")),
    path("s/", include("siyu.tracking.urls_share")),  # public share links
    path("radar/", include("siyu.tracking.urls_radar")),
    path("orders/", include("siyu.tracking.urls_orders")),
    path("segments/", include("siyu.segments.urls")),
    path("analytics/", include("siyu.analytics.urls")),
    path("", include("siyu.web.urls")),
]
