"""The `siyu` command: Django's management commands, with Siyu's own (serve, demo, …) among them."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["siyu", *sys.argv[1:]])


if __name__ == "__main__":
    main()
