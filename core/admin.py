"""Admin building blocks shared by the apps."""

from typing import Any

from django.contrib import admin
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Shows rows; nobody, superuser or not, adds, changes or deletes them through the admin.

    Its lists filter only by the filters they offer. Django's own rule lets a query string filter
    a list by any field of the model, shown or not: `?customer_ref__startswith=C` on the sessions'
    list would tell a superuser or operator, one character at a time, a reference the page never
    shows. Any other filter answers 400.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        offered = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                offered.add(str(item.parameter_name))
            elif isinstance(item, list | tuple):
                offered.add(str(item[0]))
            elif isinstance(item, str):
                offered.add(item)
        if not any(lookup == name or lookup.startswith(name + LOOKUP_SEP) for name in offered):
            return False
        return super().lookup_allowed(lookup, value, request)
