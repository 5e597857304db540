import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.utils import translation
from playwright.sync_api import Browser, sync_playwright

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import MemberFactory, WorkspaceFactory


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the product's default language (zh-hans), whatever an earlier request activated."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def workspace(db: None) -> Iterator[Workspace]:
    """A workspace, active for the whole test (as the middleware would make it)."""
    ws = WorkspaceFactory(name="花漾美妆", slug="huayang")
    with workspace_scope(ws.id):
        yield ws


@pytest.fixture
def other_workspace(db: None) -> Workspace:
    """A second tenant: tests prove it cannot see the first one's data."""
    return WorkspaceFactory(name="Other Co", slug="other")


@pytest.fixture
def make_member(workspace: Workspace) -> Callable[..., Member]:
    def make(role: Role = Role.SALES, **kwargs: object) -> Member:
        return MemberFactory(role=role, **kwargs)

    return make


@pytest.fixture
def admin(make_member: Callable[..., Member]) -> Member:
    return make_member(Role.ADMIN, display_name="管理员")


@pytest.fixture
def admin_actor(admin: Member) -> Actor:
    return actor_for_member(member=admin, ip_address="127.0.0.1")


@pytest.fixture
def rep(make_member: Callable[..., Member]) -> Member:
    return make_member(Role.SALES, display_name="销售小王")


@pytest.fixture
def rep_actor(rep: Member) -> Actor:
    return actor_for_member(member=rep, ip_address="127.0.0.1")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium for one test module.

    Sync Playwright runs an event loop in this thread while it is open, so it is closed after each
    module that uses it: other modules' async tests (the SSE streams) need the thread to themselves.
    While it is open, the test's own ORM calls are still plain sync code.
    """
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)."
        )
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def english() -> Iterator[None]:
    """For tests that read the English source text of a message (the default language is zh-hans)."""
    with translation.override("en"):
        yield
