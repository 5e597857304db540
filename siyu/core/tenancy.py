"""The active workspace, held in a context variable set by middleware and by the task runner."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from siyu.core.errors import NoActiveWorkspace

_active_workspace_id: ContextVar[object | None] = ContextVar("siyu_active_workspace_id", default=None)


def active_workspace_id() -> object:
    workspace_id = _active_workspace_id.get()
    if workspace_id is None:
        raise NoActiveWorkspace("No workspace is active; wrap the code in workspace_scope(workspace_id).")
    return workspace_id


def active_workspace_id_or_none() -> object | None:
    return _active_workspace_id.get()


@contextmanager
def workspace_scope(workspace_id: object) -> Iterator[None]:
    if workspace_id is None:
        raise NoActiveWorkspace("workspace_scope() needs a workspace id.")
    token = _active_workspace_id.set(workspace_id)
    try:
        yield
    finally:
        _active_workspace_id.reset(token)
