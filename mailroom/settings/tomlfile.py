"""The settings file: TOML in, TOML out.

`read` parses and validates (raising ConfigError with every problem); `dumps` writes
the canonical document as TOML, omitting unset values, and never holds a secret:
passwords are not settings, they live in the keyring (see mailroom/secrets.py).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tomli_w

from mailroom.errors import ConfigError
from mailroom.settings.document import Document, validate
from mailroom.settings.fields import SECTIONS


def read(path: Path) -> tuple[Document, list[str]]:
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"No settings file at {path}.") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; name the settings file.") from None
    except OSError as exc:
        raise ConfigError(f"{path} could not be read: {exc.strerror}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not a settings file: it is not UTF-8 text (byte {exc.start + 1}; "
                          "TOML is UTF-8 text, save it as UTF-8).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML; nothing was changed.",
                          problems=[syntax_problem(exc)]) from None
    return validate(raw)


_POSITION = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$", re.S)


def syntax_problem(exc: tomllib.TOMLDecodeError) -> str:
    """ "line 3, column 7: expected '=' after a key in a key/value pair"."""
    # Python 3.14 gives lineno/colno; before, they are only in the message's tail.
    line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    message = getattr(exc, "msg", None) or str(exc)
    found = _POSITION.match(message)
    if found:
        message, line, col = found["msg"], line or found["line"], col or found["col"]
    message = message[:1].lower() + message[1:]
    if line is None:
        return message
    return f"line {line}, column {col}: {message}"


def dumps(doc: Document) -> str:
    """The canonical document as TOML, sections in the documented order, unset values left out."""
    parts = ["# Mailroom settings. Passwords are not in this file: they live in the OS keyring.\n"]
    for section in SECTIONS:
        entries = [doc[section.name]] if section.single else doc[section.name]
        for entry in entries:
            values = {f.name: entry[f.name] for f in section.fields if entry.get(f.name) is not None}
            header = f"[{section.name}]" if section.single else f"[[{section.name}]]"
            parts.append(f"{header}\n{tomli_w.dumps(values, multiline_strings=True)}")
    return "\n".join(parts)

