from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("siyu.api.urls")),
    path("contacts/", include("siyu.contacts.urls")),
    path("imports/", include("siyu.contacts.urls_import")),
    path("settings/contacts/", include("siyu.contacts.urls_settings")),
    path("settings/", include("siyu.tenancy.urls")),
    path("", include("siyu.web.urls")),
]
