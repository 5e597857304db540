from django.urls import URLPattern, URLResolver

app_name = "tracking_settings"
urlpatterns: list[URLPattern | URLResolver] = []
