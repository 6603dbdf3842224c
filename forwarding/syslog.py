"""Ledger entries as syslog messages (RFC 5424) sent over TCP, plain or TLS (RFC 5425), with
octet-counting framing (RFC 6587 section 3.4.1).

Written here rather than taken from a logging handler: a handler fires and forgets, while the
forwarder must know that a batch arrived before it moves its cursor. Syslog over TCP has no
acknowledgement, so each batch goes over its own connection and counts as delivered only when the
receiver, having read to its end, closes in turn (`_confirm_read_to_end`).
"""

from __future__ import annotations

import fcntl
import socket
import ssl
import struct
import sys
import termios
from collections.abc import Mapping, Sequence
from typing import Any

from audit.canonical import canonical_bytes

# RFC 5424 section 6.2.1: facility 13 "log audit", severity 5 "notice": PRI = 13 * 8 + 5.
PRI = 13 * 8 + 5
APP_NAME = "vault-ledger"
# RFC 5424 section 7.2.2: an SD-ID that IANA did not register carries a private enterprise
# number. 32473 is the one RFC 5612 reserves for documentation; a site sets its own.
DEFAULT_SD_ID = "entry@32473"
_BOM = b"\xef\xbb\xbf"  # RFC 5424 section 6.4: MSG in UTF-8 starts with the BOM
_MSGID_MAX = 32


class DeliveryFailed(Exception):
    """The destination did not confirm the batch: nothing of it counts as delivered."""


def _param_value(value: str) -> str:
    """RFC 5424 section 6.3.3: '"', '\\' and ']' are escaped with a backslash."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_token(value: str, limit: int) -> str:
    """A HOSTNAME, APP-NAME or MSGID: printable US-ASCII without spaces, at most `limit` long,
    or the NILVALUE when it cannot be one."""
    if not value or len(value) > limit or any(not 33 <= ord(c) <= 126 for c in value):
        return "-"
    return value


def structured_data(fields: Mapping[str, Any], sd_id: str) -> str:
    """The entry's fields as one SD-ELEMENT; ids that are null are left out, details are canonical
    JSON (the same spelling the export and the leaf hash use)."""
    actor = fields["actor"]
    params = {
        "seq": str(fields["seq"]),
        "recordedAt": fields["recorded_at"],
        "action": fields["action"],
        "actorKind": actor["kind"],
        "actorId": actor["id"],
        "actorLabel": actor["label"],
        "recordingId": fields["recording_id"],
        "sessionId": fields["session_id"],
        "caseId": fields["case_id"],
        "details": canonical_bytes(fields["details"]).decode(),
    }
    spelled = " ".join(
        f'{name}="{_param_value(value)}"' for name, value in params.items() if value is not None
    )
    return f"[{sd_id} {spelled}]"


def message(fields: Mapping[str, Any], *, hostname: str, sd_id: str = DEFAULT_SD_ID) -> bytes:
    """One RFC 5424 SYSLOG-MSG: the entry's time as TIMESTAMP, its action as MSGID (when it fits
    the 32 characters), its fields as structured data, and as MSG the entry's canonical JSON, the
    bytes its leaf hash covers, so a SIEM can match it to an export."""
    header = " ".join(
        (
            f"<{PRI}>1",
            fields["recorded_at"],  # RFC 3339 in UTC with microseconds: RFC 5424 section 6.2.3
            _header_token(hostname, 255),
            APP_NAME,
            "-",  # PROCID: which process forwarded it means nothing to the reader
            _header_token(fields["action"], _MSGID_MAX),
            structured_data(fields, sd_id),
        )
    )
    return header.encode() + b" " + _BOM + canonical_bytes(fields)


def frame(syslog_message: bytes) -> bytes:
    """RFC 6587 section 3.4.1, octet counting: MSG-LEN SP SYSLOG-MSG."""
    return b"%d %s" % (len(syslog_message), syslog_message)


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Server certificate and host name checked (RFC 5425 section 5.2), against `ca_file` or the
    system's trust store."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SyslogDestination:
    """`tcp://host:port` or `tls://host:port`: one connection per batch."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        hostname: str,
        sd_id: str,
        timeout: float,
    ) -> None:
        self.name = name
        self.host, self.port, self.tls = host, port, tls
        self.hostname, self.sd_id, self.timeout = hostname, sd_id, timeout

    def send(self, entries: Sequence[Mapping[str, Any]]) -> None:
        payload = b"".join(frame(message(e, hostname=self.hostname, sd_id=self.sd_id)) for e in entries)
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
                if self.tls is None:
                    raw.sendall(payload)
                    raw.shutdown(socket.SHUT_WR)
                    _confirm_read_to_end(raw)
                    return
                with self.tls.wrap_socket(raw, server_hostname=self.host) as secure:
                    secure.sendall(payload)
                    _close_tls(secure)
        except (OSError, ssl.SSLError) as error:  # ssl.SSLError is an OSError; named for the reader
            raise DeliveryFailed(_describe(error)) from error


def _close_tls(secure: ssl.SSLSocket) -> None:
    """Send close_notify (RFC 5425 section 4.4) and wait for the receiver's close: its close_notify
    in turn, or the end of the connection."""
    try:
        secure.unwrap()  # returns once the receiver's close_notify arrived: it read ours, so all
        return
    except ssl.SSLEOFError:
        pass  # the receiver closed without close_notify: whether it read everything is checked next
    except ssl.SSLZeroReturnError:
        pass
    _check_nothing_unacknowledged(secure)


def _confirm_read_to_end(sock: socket.socket) -> None:
    """Wait until the receiver closes after our FIN. The receiver's kernel answers a close with
    unread data pending, or data arriving after the close, with RST (a ConnectionResetError here),
    not FIN; so an orderly end with none of our bytes left unacknowledged means the receiver read
    every octet we sent."""
    while sock.recv(4096):
        pass  # a syslog receiver sends nothing; read past anything it does send
    _check_nothing_unacknowledged(sock)


def _check_nothing_unacknowledged(sock: socket.socket) -> None:
    if not sys.platform.startswith("linux"):
        return  # SIOCOUTQ is Linux's: elsewhere the orderly end alone is taken as the confirmation
    # SIOCOUTQ (== TIOCOUTQ): bytes written but not yet acknowledged by the receiver, our FIN included.
    pending = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    if pending:
        raise DeliveryFailed(f"the receiver closed before acknowledging the last {pending} bytes")


def _describe(error: BaseException) -> str:
    """A short reason for the log and the dashboard: the error's class and message (neither holds
    entry content, which travels only inside the connection)."""
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:250]
