import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from playwright.sync_api import Browser, sync_playwright

from siyu.core.tenancy import workspace_scope
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member, Workspace
from siyu.tenancy.roles import Role
from siyu.tenancy.selectors import actor_for_member
from tests.factories import MemberFactory, WorkspaceFactory

LIVE_MODULE = "tests.tracking.live"
# Under xdist (`make test` runs `pytest -n auto --dist loadgroup`: each worker takes the next test when
# it runs short) the longest tests start first, then the other `slow` and `browser` ones, so that no
# worker is left finishing a long test alone at the end. The rest keep their order. Mark a new test that
# takes more than a few seconds `slow`; list it here when it takes minutes.
LONGEST_FIRST = (
    "tests/web/test_demo.py",
    "tests/tracking/test_processor_faults.py",
    "tests/segments/test_equivalence.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # Commits need not wait for the disk in tests (flushes of transactional tests, migrations, the live
    # servers' writes): a crash of the PostgreSQL server, not of a test, is all this gives up.
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        os.environ.setdefault("PGOPTIONS", "-c synchronous_commit=off")


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    if path in LONGEST_FIRST:
        return LONGEST_FIRST.index(path)
    if item.get_closest_marker("slow"):
        return len(LONGEST_FIRST)
    if item.get_closest_marker("browser"):
        return len(LONGEST_FIRST) + 1
    return len(LONGEST_FIRST) + 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker; every worker sorts alike
        items.sort(key=_start_rank)


def pytest_sessionfinish(session: pytest.Session) -> None:
    live = sys.modules.get(LIVE_MODULE)
    if live is not None:
        live.cleanup()
    _sqlite_leftovers_remove()


def _sqlite_leftovers_remove() -> None:
    """pytest-django deletes the SQLite test database file; its WAL, shared-memory and writers' lock
    files stay behind unless removed here."""
    database = settings.DATABASES["default"]
    name = str(database.get("TEST", {}).get("NAME") or "")
    if "sqlite" not in database["ENGINE"] or not name or name.startswith(("file:", ":memory:")):
        return
    for suffix in ("-wal", "-shm", "-writers.lock"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name + suffix)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """pytest-django's test database (per xdist worker: `<name>_gw0`, …), and, when this session has
    live tests, a copy of it taken before any test writes, from which their servers' databases are made
    instead of migrating one more database."""
    from django.db import connection

    if LIVE_MODULE in sys.modules and _is_test_database(connection):
        from tests.tracking.live import keep_pristine

        with django_db_blocker.unblock():
            keep_pristine(connection)


def _is_test_database(connection: Any) -> bool:
    """Whether pytest-django has set up the test database (it does not when no collected test uses one)."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(name):
        return True
    return bool(name == connection.creation._get_test_db_name())


_uses_live: dict[str, bool] = {}


def _module_uses_live(module: ModuleType) -> bool:
    if module.__name__ not in _uses_live:
        _uses_live[module.__name__] = any(
            getattr(value, "__module__", None) == LIVE_MODULE for value in vars(module).values()
        )
    return _uses_live[module.__name__]


@pytest.fixture(autouse=True)
def _live_databases_from_the_test_database(request: pytest.FixtureRequest) -> None:
    """A test that spawns live servers sets up the test database first, so that their template is a
    copy of it rather than a second migration (see `django_db_setup`)."""
    module = getattr(request, "module", None)
    if module is not None and _module_uses_live(module):
        request.getfixturevalue("django_db_setup")


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


@pytest.fixture
def marketer(make_member: Callable[..., Member]) -> Member:
    return make_member(Role.MARKETING, display_name="市场部小李")


@pytest.fixture
def marketer_actor(marketer: Member) -> Actor:
    return actor_for_member(member=marketer, ip_address="127.0.0.1")


def client_for(member: Member, *, client: Client | None = None) -> Client:
    """A browser logged in as the member that chose English, so assertions read the msgids: a new
    one, or `client` (pytest-django's `client` fixture, say) logged in."""
    if client is None:
        client = Client()
    client.force_login(member.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


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
