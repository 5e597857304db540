from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "siyu.segments"
    label = "segments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from siyu.segments import handlers  # noqa: F401 -- subscribes to lower domains' events
