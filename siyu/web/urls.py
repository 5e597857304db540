from django.urls import URLPattern, URLResolver, path

from siyu.web import health, views

app_name = "web"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("workspace/switch/", views.switch_workspace, name="switch_workspace"),
    path("healthz", health.healthz, name="healthz"),
]
