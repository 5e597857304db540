"""The base of every tenant-owned row: a workspace key, and a manager that refuses to run unscoped."""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models

from siyu.core.errors import NoActiveWorkspace
from siyu.core.ids import uuid7
from siyu.core.tenancy import active_workspace_id

_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    def bulk_create(self, objs: Iterable[_M], *args: Any, **kwargs: Any) -> list[_M]:
        rows = list(objs)
        for row in rows:
            row._stamp_workspace()  # type: ignore[attr-defined]
        return super().bulk_create(rows, *args, **kwargs)


class TenantManager(models.Manager[_M]):
    """Every query is filtered to the active workspace; with none active, it raises."""

    def get_queryset(self) -> TenantQuerySet[_M]:
        return TenantQuerySet(self.model, using=self._db).filter(workspace_id=active_workspace_id())


class TenantModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    workspace = models.ForeignKey("tenancy.Workspace", on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()
    # For system code that must cross workspaces on purpose (login, the task runner, maintenance).
    all_workspaces = models.Manager()  # noqa: DJ012

    class Meta:
        abstract = True
        base_manager_name = "all_workspaces"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._stamp_workspace()
        super().save(*args, **kwargs)

    def _stamp_workspace(self) -> None:
        active = active_workspace_id()
        if self.workspace_id is None:
            self.workspace_id = active
        elif str(self.workspace_id) != str(active):
            raise NoActiveWorkspace(
                f"Refusing to write a {type(self).__name__} of workspace {self.workspace_id} "
                f"while workspace {active} is active."
            )
