"""The staff admin: Django's user admin, where every account change is ledgered with the admin's
signed-in user as actor (staff.account_changes; the triggers catch it, the request names the
actor), a superuser cannot be given a role that opens recordings, and no second-factor device is
shown at all (a TOTP secret is seen once, by its owner, on the enrolment page). Role groups are
shown, never edited (they follow staff.roles)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import Actor
from core.admin import ReadOnlyAdmin
from staff.account_changes import acting_as
from staff.roles import RECORDING_ROLES, SUPERUSER_WITH_RECORDING_ROLE


def refuse_superuser_with_recording_role(form: forms.ModelForm) -> None:  # type: ignore[type-arg]
    """The admin's form: a superuser holds no role that opens recordings."""
    data = form.cleaned_data
    superuser = data.get("is_superuser", getattr(form.instance, "is_superuser", False))
    groups = data.get("groups")
    names = {group.name for group in groups} if groups is not None else set()
    if groups is None and form.instance.pk:
        names = set(form.instance.groups.values_list("name", flat=True))
    role = next((name for name in RECORDING_ROLES if name in names), None)
    if superuser and role:
        username = data.get("username") or form.instance.get_username()
        raise forms.ValidationError(SUPERUSER_WITH_RECORDING_ROLE % {"username": username, "role": role})


class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Django's user admin; a change of someone's role groups is on the ledger with the admin's
    signed-in user as actor (staff.account_changes)."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)

        class Form(base):  # type: ignore[valid-type,misc]
            def clean(self) -> Any:
                data = super().clean()
                refuse_superuser_with_recording_role(self)
                return data

        return Form

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        with acting_as(Actor.for_user(request.user)):
            super().save_related(request, form, formsets, change)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StaffUserAdmin)
# Role groups and their permissions follow staff.roles (synced at every migrate): shown only.
admin.site.unregister(Group)
admin.site.register(Group, ReadOnlyAdmin)
# django-otp's device admins show a TOTP secret (as a QR code) to any superuser: none here.
for device in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device):
        admin.site.unregister(device)
