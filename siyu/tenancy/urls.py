from django.urls import URLPattern, URLResolver

app_name = "settings"
urlpatterns: list[URLPattern | URLResolver] = []
