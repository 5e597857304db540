from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "siyu.tenancy"
    label = "tenancy"
