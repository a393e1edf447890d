"""Logging: a rotating file in the data folder, the console in headless mode.

Every record passes a redaction filter: passwords Mailroom has handled are replaced
by *** (SECURITY.md #14), as are POP3 `PASS` and SMTP `AUTH` arguments should any
library ever log them. Protocol debug levels stay 0 everywhere.

Text a server sent (an -ERR reply, a greeting) is written by strangers: `printable`
escapes its control characters, so it can neither start a forged log line (CR, LF)
nor drive the console (ESC sequences). Error messages use it where they quote a
server; the filter applies it to every record as well.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading

_secrets: set[str] = set()
_lock = threading.Lock()
_PROTOCOL = re.compile(r"(?i)\b(PASS|AUTH\s+\w+)\s+\S+")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

log = logging.getLogger("mailroom")


def redact(secret: str) -> None:
    """Never let `secret` reach a log line from now on."""
    if secret:
        with _lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return _PROTOCOL.sub(lambda m: f"{m.group(1)} ***", text)


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control character written as an escape (LF as \\n, ESC as \\x1b).

    For any text a server or a message sent that goes into a log line or an error
    message. `keep_newlines` keeps LF, for our own multi-line text such as a traceback.
    """
    if keep_newlines:
        return "\n".join(_CONTROL.sub(_escape, line) for line in text.split("\n"))
    return _CONTROL.sub(_escape, text)


class RedactingFilter(logging.Filter):
    """Secrets out, control characters escaped: every record becomes one safe line
    (a traceback keeps its own line breaks, nothing else)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = printable(scrub(record.getMessage()))
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = printable(scrub(text), keep_newlines=True)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = printable(scrub(record.exc_text), keep_newlines=True)
        return True


def setup(log_dir, *, console: bool, level: int = logging.INFO) -> None:
    """Configure the `mailroom` logger once per process."""
    if getattr(setup, "done", False):
        return
    setup.done = True
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.handlers.RotatingFileHandler(log_dir / "mailroom.log", maxBytes=1_000_000,
                                                   backupCount=5, encoding="utf-8")
    handlers: list[logging.Handler] = [handler]
    if console:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(RedactingFilter())
        log.addHandler(h)
    log.setLevel(level)
