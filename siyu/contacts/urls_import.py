from django.urls import URLPattern, URLResolver, path

from siyu.contacts import views_import

app_name = "imports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views_import.import_list, name="list"),
    path("new/", views_import.import_new, name="new"),
    path("<uuid:job_id>/", views_import.import_detail, name="detail"),
    path("<uuid:job_id>/errors.csv", views_import.import_error_report, name="error_report"),
    path("exports/new/", views_import.export_create, name="export_create"),
    path("exports/<uuid:job_id>/", views_import.export_detail, name="export_detail"),
    path("exports/<uuid:job_id>/download/", views_import.export_download, name="export_download"),
]
