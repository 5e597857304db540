from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "siyu.tracking"
    label = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from siyu.tracking import subscribers

        subscribers.connect()
