"""OpenAPI: describe the staff session authentication of the staff API to drf-spectacular."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class StaffSessionScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "staff.authorisation.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A staff member's Django session (sign in at /accounts/login/); unsafe "
            "methods also need the CSRF token in X-CSRFToken. Authorization headers are refused.",
        }
