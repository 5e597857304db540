"""Helpers for tests in a real browser (the `browser` fixture is in tests/conftest.py)."""

import re

from django.conf import settings
from playwright.sync_api import Browser, Page

from tests.factories import PASSWORD


def log_in(
    browser: Browser,
    base_url: str,
    username: str,
    *,
    language: str | None = None,
    width: int = 1366,
    errors: list[str] | None = None,
) -> Page:
    """A new page of a zh-CN browser, signed in through the login form and on the home page.

    `language` is the interface language chosen (Django's language cookie; the product ignores the
    browser's Accept-Language); `errors` collects the page's uncaught script errors from the login page on.
    """
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN")
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
    if language is not None:
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base_url}]
        )
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    return page
