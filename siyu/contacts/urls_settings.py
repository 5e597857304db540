from django.urls import URLPattern, URLResolver

app_name = "contact_settings"
urlpatterns: list[URLPattern | URLResolver] = []
