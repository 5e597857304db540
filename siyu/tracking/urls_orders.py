from django.urls import URLPattern, URLResolver, path

from siyu.tracking.views import orders as views

app_name = "orders"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.order_list, name="list"),
    path("import/", views.order_import, name="import"),
    path("import/<uuid:job_id>/", views.order_import_detail, name="import_detail"),
    path("import/<uuid:job_id>/report.csv", views.order_import_report, name="import_report"),
]
