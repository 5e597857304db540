from django.urls import URLPattern, URLResolver

app_name = "sdk"
urlpatterns: list[URLPattern | URLResolver] = []
