"""Logging: a rotating file in the data folder, the console in headless mode.

Every record passes a redaction filter: passwords Mailroom has handled are replaced
by *** (SECURITY.md #14), as are POP3 `PASS` and SMTP `AUTH` arguments should any
library ever log them. Protocol debug levels stay 0 everywhere.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading

_secrets: set[str] = set()
_lock = threading.Lock()
_PROTOCOL = re.compile(r"(?i)\b(PASS|AUTH\s+\w+)\s+\S+")

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


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = scrub(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
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
