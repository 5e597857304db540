"""Password handling shared by the operator commands: given, prompted, validated."""

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def password_resolve(*, given: str | None, username: str, required: bool) -> str | None:
    """The password to set: the one given, else prompted for (interactive terminals only).

    Returns None when no password is needed (an existing user keeps theirs). Raises CommandError
    when one is required but cannot be asked for, or when it fails the password validators.
    """
    password = given
    if password is None and required:
        if not sys.stdin.isatty():
            raise CommandError(
                _("%(username)s needs a password: pass --password (no terminal to ask on).")
                % {"username": username}
            )
        password = getpass.getpass(_("Password for %(username)s: ") % {"username": username})
        if password != getpass.getpass(_("Password (again): ")):
            raise CommandError(_("The two passwords differ."))
    if password is None:
        return None
    try:
        validate_password(password)
    except DjangoValidationError as exc:
        raise CommandError(" ".join(exc.messages)) from exc
    return password
