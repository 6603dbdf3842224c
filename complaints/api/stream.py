"""The stream a grantee's browser plays (`<video src>`): HTTP Range, inline, never cached.

GET /api/v1/cases/{case_id}/recordings/{recording_id}/stream (url name "recording-stream").
Every request is checked and written to the ledger before the first byte (complaints.playback).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request

from complaints import playback
from complaints.ranges import ByteRange, RangeNotSatisfiable, parse_range
from core.clients import client_address
from core.errors import DomainError, json_error
from core.schema import ERROR
from recorder.sealing import TamperedError
from recorder.stores import StoreError
from staff.authorisation import StaffAPIView
from staff.roles import OFFICER
from staff.step_up import recently_authenticated, step_up_url

logger = logging.getLogger(__name__)


class AnyAccept(BaseContentNegotiation):
    """A media element asks for `*/*` or for video types; errors are JSON whatever it asked for."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class StepUpRequired(DomainError):
    code = "step_up_required"
    status = 403


class LedgerUnavailable(DomainError):
    code = "ledger_unavailable"
    status = 503


class RecordingUnreadable(DomainError):
    code = "recording_unreadable"
    status = 502


# While a response streams, the grant is asked again after this many bytes or seconds, whichever
# comes first. A <video> element asks for the rest of the file (`bytes=N-`) and reads it as it plays.
RECHECK_BYTES = 8 * 1024 * 1024
RECHECK_SECONDS = 5.0


class PlaybackStopped(Exception):
    """Raised inside a streaming response whose grant ended: the server closes the connection short
    of Content-Length, which every client treats as an error (as for a tampered chunk)."""


def _no_store(response: HttpResponse | StreamingHttpResponse) -> None:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"


class RecordingStreamView(StaffAPIView):
    serves = (OFFICER,)
    # lazy: read in the caller's language, as playback's own NotFound (see api/cases.py)
    refused_as_not_found = ("recording_not_found", gettext_lazy("No such recording in this case."))
    content_negotiation_class = AnyAccept
    # GET only: a HEAD would be checked and written to the ledger as a play that sent nothing.
    http_method_names = ["get"]

    @extend_schema(
        operation_id="stream_recording",
        parameters=[
            OpenApiParameter(
                "Range",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="One byte range (RFC 9110), e.g. bytes=0-1023, bytes=1024-, bytes=-500",
            )
        ],
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The whole recording"),
            (206, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The requested range"),
            403: OpenApiResponse(ERROR, description="Not signed in, grant ended, or step-up required"),
            404: ERROR,
            410: OpenApiResponse(ERROR, description="The recording was purged"),
            416: OpenApiResponse(
                ERROR, description="The range starts beyond the end (Content-Range: bytes */size)"
            ),
            502: ERROR,
            503: OpenApiResponse(
                ERROR,
                description="The ledger could not be written, or no identity can unseal: nothing is sent",
            ),
        },
        summary="Play a recording under an active access grant (grantee only, inline, no-store)",
    )
    def get(self, request: Request, case_id: str, recording_id: str) -> HttpResponse | StreamingHttpResponse:
        user = request.user
        authorised = playback.authorise_playback(user=user, case_id=case_id, recording_id=recording_id)
        if not recently_authenticated(request._request, voided_at=authorised.credentials_voided_at):
            playback.refuse_without_step_up(user=user, authorised=authorised)
            raise StepUpRequired(
                gettext("Confirm your password before playback: %(url)s")
                % {"url": step_up_url(request.get_full_path())},
            )
        opened = playback.open_recording(authorised=authorised)
        try:
            byte_range = parse_range(request.META.get("HTTP_RANGE"), opened.size)
        except RangeNotSatisfiable:
            refused = json_error(
                "range_not_satisfiable",
                gettext("The range starts beyond the recording's %(size)s bytes.")
                % {"size": formats.number_format(opened.size, force_grouping=True)},
                416,
            )
            refused["Content-Range"] = f"bytes */{opened.size}"
            _no_store(refused)
            return refused
        whole = byte_range is None
        served = byte_range or ByteRange(0, opened.size - 1)
        # The disk reads the first chunks while the ledger entry commits; no byte of them comes
        # into this process before the entry is written.
        opened.prefetch(served.start, served.end + 1)
        try:
            playback.record_played(
                user=user,
                authorised=authorised,
                start=served.start,
                end=served.end,
                partial=not whole,
                client_address=client_address(request),
            )
        except DatabaseError as error:
            logger.error("recording.played not written, playback refused: %s", type(error).__name__)
            raise LedgerUnavailable(
                gettext("The access could not be written to the ledger; nothing was sent.")
            ) from None
        body = self._plaintext(user, authorised, opened, served)
        response = StreamingHttpResponse(body, status=200 if whole else 206)
        if not whole:
            response["Content-Range"] = served.content_range(opened.size)
        response["Content-Type"] = opened.recording.media_type or "application/octet-stream"
        response["Content-Length"] = str(max(served.length, 0))
        response["Accept-Ranges"] = "bytes"
        response["Content-Disposition"] = "inline"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        _no_store(response)
        return response

    def _plaintext(
        self, user: Any, authorised: playback.Authorised, opened: Any, served: ByteRange
    ) -> Iterator[bytes]:
        """The first piece is decrypted before the response starts, so a bad first chunk is a clean
        JSON error; a later bad chunk ends the stream (the connection closes short of
        Content-Length, which every client treats as an error)."""
        if served.length <= 0:
            return iter(())
        pieces = opened.iter_range(served.start, served.end + 1)
        try:
            first = next(pieces)
        except (TamperedError, StoreError) as error:
            self._failed(user, authorised, served, error)
            raise RecordingUnreadable(
                gettext("The recording failed its integrity check; nothing was sent.")
            ) from None

        def rest() -> Iterator[bytes]:
            yield first
            sent, since_check, checked_at = len(first), len(first), time.monotonic()
            try:
                for piece in pieces:
                    # Closing the case or revoking the grant stops a long response too: the grant is
                    # asked again every RECHECK_BYTES or RECHECK_SECONDS, before the next piece goes.
                    if since_check >= RECHECK_BYTES or time.monotonic() - checked_at >= RECHECK_SECONDS:
                        if not playback.still_authorised(authorised=authorised):
                            self._stopped(user, authorised, served, sent)
                            raise PlaybackStopped("the access grant no longer covers this recording")
                        since_check, checked_at = 0, time.monotonic()
                    sent += len(piece)
                    since_check += len(piece)
                    yield piece
            except (TamperedError, StoreError) as error:
                self._failed(user, authorised, served, error)
                raise

        return rest()

    def _stopped(self, user: Any, authorised: playback.Authorised, served: ByteRange, sent: int) -> None:
        logger.warning("playback of %s stopped after %d bytes: grant ended", authorised.recording_id, sent)
        playback.record_stream_stopped(
            user=user, authorised=authorised, start=served.start, end=served.end, sent=sent
        )

    def _failed(
        self, user: Any, authorised: playback.Authorised, served: ByteRange, error: Exception
    ) -> None:
        logger.error("playback of %s stopped: %s", authorised.recording_id, error)
        playback.record_stream_failure(
            user=user,
            authorised=authorised,
            start=served.start,
            end=served.end,
            tampered=isinstance(error, TamperedError),
            reason=str(error),
        )
