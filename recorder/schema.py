"""OpenAPI: describe the recorder's bearer-token authentication to drf-spectacular."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class RecorderTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "recorder.authentication.RecorderTokenAuthentication"
    name = "recorderToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A recorder client's token, from `manage.py create_recorder_client NAME`.",
        }
