"""The second factor of the roles that open recordings: a TOTP authenticator (RFC 6238, django-otp;
secrets as pyotp and every authenticator app read them) and ten single-use recovery codes
(django-otp's static device), enrolled by their owner only, on `/accounts/second-factor/`.

The page shows the new secret (a QR code made by segno, and the same in base32 for typing) until
the owner proves the authenticator works with a current code; the secret is kept in the owner's
session until then, and never shown again by any page once the device is stored (the admin shows
no device at all). Replacing an authenticator needs a current code of the present one, so a
password alone (one an administrator set, say) cannot swap in a device of someone else's. Storing
the new device deletes every other device of the account: what someone else may have added goes
with it. Enrolling is an account change by its owner (staff.account_changes): it renews the
second factor of an account whose credentials were voided.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import quote

import segno
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import match_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import Actor, record_event
from staff.authorisation import staff_page
from staff.models import CredentialStatus
from staff.roles import RECORDING_ROLES, role_of

PENDING_KEY = "vault_totp_pending"  # the hex secret shown and not yet confirmed
RECOVERY_CODES = 10
ISSUER = "Recording vault"


def needs_second_factor(user: Any) -> bool:
    return role_of(user) in RECORDING_ROLES


def enrolled(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def credential_status(user: Any) -> CredentialStatus | None:
    return CredentialStatus.objects.filter(user_id=user.pk).first()


def verify_code(user: Any, code: str) -> str | None:
    """The kind of device that accepts `code` ("totp" or "recovery_code"), once; else None. A TOTP
    code is refused a second time within its step, a recovery code is used up."""
    code = "".join(code.split())
    if not code or len(code) > 16:
        return None
    device = match_token(user, code)
    if device is None:
        return None
    return "totp" if isinstance(device, TOTPDevice) else "recovery_code"


def _otpauth_uri(user: Any, key_hex: str) -> str:
    secret = base64.b32encode(bytes.fromhex(key_hex)).decode().rstrip("=")
    label = quote(f"{ISSUER}:{user.get_username()}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(ISSUER)}&algorithm=SHA1&digits=6&period=30"


def _next(request: HttpRequest) -> str:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return next_url
    return ""


@sensitive_post_parameters("code", "current_code")
@staff_page(*RECORDING_ROLES)
def second_factor(request: HttpRequest) -> HttpResponse:
    """Enrol (or replace) the signed-in officer's or DPO's authenticator."""
    user = request.user
    has_device = enrolled(user)
    error = ""
    if request.method == "POST" and PENDING_KEY in request.session:
        key_hex = str(request.session[PENDING_KEY])
        device = TOTPDevice(user=user, name="authenticator", key=key_hex, confirmed=True)
        if has_device and verify_code(user, request.POST.get("current_code", "")) is None:
            error = gettext("That is not a current code of your present authenticator.")
        elif not _proves(device, request.POST.get("code", "")):
            error = gettext(
                "That code does not match the new authenticator: check its clock and try the next code."
            )
        else:
            codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
            with transaction.atomic():
                TOTPDevice.objects.filter(user=user).delete()
                StaticDevice.objects.filter(user=user).delete()
                device.save()
                recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
                StaticToken.objects.bulk_create([StaticToken(device=recovery, token=c) for c in codes])
                record_event(
                    action="auth.second_factor_enrolled",
                    actor=Actor.for_user(user),
                    details={"user": str(user.pk), "replaced": has_device, "recovery_codes": len(codes)},
                )
            del request.session[PENDING_KEY]
            messages.success(
                request, gettext("Authenticator enrolled. Keep the recovery codes somewhere safe.")
            )
            return render(request, "staff/recovery_codes.html", {"codes": codes, "next": _next(request)})
    if request.method == "GET" or PENDING_KEY not in request.session:
        request.session[PENDING_KEY] = secrets.token_hex(20)
    key_hex = str(request.session[PENDING_KEY])
    uri = _otpauth_uri(user, key_hex)
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=gettext("Authenticator QR code"))
    context = {
        "qr": mark_safe(svg),  # noqa: S308 - segno's own SVG
        "secret": base64.b32encode(bytes.fromhex(key_hex)).decode().rstrip("="),
        "has_device": has_device,
        "status": credential_status(user),
        "error": error,
        "next": _next(request),
    }
    return render(request, "staff/second_factor.html", context, status=400 if error else 200)


def _proves(device: TOTPDevice, code: str) -> bool:
    """Whether `code` is a current code of the unsaved `device`; its step is then used up."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == device.digits):
        return False
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if not totp.verify(int(code), device.tolerance):
        return False
    device.last_t = totp.t()
    return True


def _recovery_code() -> str:
    """Ten characters a person copies without doubt: no 0/O, 1/l/I."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))
