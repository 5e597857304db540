from django.urls import URLPattern, URLResolver

app_name = "radar"
urlpatterns: list[URLPattern | URLResolver] = []
