"""Auto-reply templates: merge fields, sandboxed rendering, validation and preview.

A template is a subject and a body written by the business, with merge fields such as
`{{ client.first_name }}`. Two kinds: "form_letter" (plain text) and "html_email"
(HTML, with merged values HTML-escaped and a plain-text alternative generated).
Rendering happens in Jinja's immutable sandbox with `StrictUndefined`, so a template
cannot reach Python internals (`{{ ''.__class__ }}` fails), cannot mutate what it is
given, and a misspelt field is an error rather than a silent blank.

Pure: no files, no database, no clock. The context is passed in; this module never
looks anything up. Errors users must fix are raised as `TemplateError`.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass
from typing import Any, Callable, Literal
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from mailroom.errors import ConfigError

Kind = Literal["form_letter", "html_email"]
KINDS: tuple[str, ...] = ("form_letter", "html_email")


@dataclass(frozen=True)
class MergeField:
    """One merge field: its name in templates, a help line, and a sample value."""

    name: str
    help: str
    sample: str


# The single list of merge fields: the template form, the docs, validation and the
# preview all read it, so they cannot drift apart (a test ties it to MergeContext).
MERGE_FIELDS: tuple[MergeField, ...] = (
    MergeField("client.first_name", "The client's first name (the first word of their name).", "Jane"),
    MergeField("client.name", "The client's full name.", "Jane Doe"),
    MergeField("client.email", "The address the client wrote from.", "jane.doe@example.com"),
    MergeField("message.subject", "The subject of the client's email.", "Wedding photos in June"),
    MergeField("message.date", "When the client's email was sent, in the company's time zone.",
               "4 March 2026, 14:30"),
    MergeField("mailbox.description", "The description of the mailbox the email arrived in.",
               "Studio enquiries"),
    MergeField("company.name", "Your company's name.", "Bright Lights Studio"),
    MergeField("company.phone", "Your company's phone number.", "+44 20 7946 0000"),
    MergeField("company.business_hours", "Your business hours, as written in the settings.",
               "Mon-Fri 09:00-17:00"),
    MergeField("user.name", "The user the mailbox assigns its tasks to.", "Sam Taylor"),
    MergeField("department.name", "The department the mailbox assigns its tasks to.", "Weddings"),
)
_FIELD_NAMES = frozenset(field.name for field in MERGE_FIELDS)
_GROUPS = frozenset(name.split(".")[0] for name in _FIELD_NAMES)


@dataclass(frozen=True)
class MergeContext:
    """The values of the merge fields for one reply: `client_name` is `client.name`.

    All values are display text; an unknown value is "". An empty `client_first_name`
    is taken from `client_name`.
    """

    client_first_name: str = ""
    client_name: str = ""
    client_email: str = ""
    message_subject: str = ""
    message_date: str = ""
    mailbox_description: str = ""
    company_name: str = ""
    company_phone: str = ""
    company_business_hours: str = ""
    user_name: str = ""
    department_name: str = ""

    def as_namespace(self) -> dict[str, dict[str, str]]:
        """The context as templates see it: {"client": {"first_name": ...}, ...}."""
        namespace: dict[str, dict[str, str]] = {group: {} for group in _GROUPS}
        for name in _FIELD_NAMES:
            group, key = name.split(".")
            namespace[group][key] = getattr(self, f"{group}_{key}")
        if not namespace["client"]["first_name"]:
            namespace["client"]["first_name"] = first_name(self.client_name)
        return namespace


SAMPLE_CONTEXT = MergeContext(**{f.name.replace(".", "_"): f.sample for f in MERGE_FIELDS})


@dataclass(frozen=True)
class Rendered:
    """A rendered template: a one-line subject, the text body, the HTML body or None."""

    subject: str
    text: str
    html: str | None


class TemplateError(ConfigError):
    """The template cannot be rendered; `problems` lists what to fix."""

    def __init__(self, problems: list[str]):
        super().__init__("The auto-reply template has errors: " + "; ".join(problems),
                         problems=problems, field="template")


def first_name(name: str) -> str:
    """The first word of a name; for "Doe, Jane" the first word after the comma."""
    if "," in name:
        name = name.split(",", 1)[1]
    words = name.split()
    return words[0] if words else ""


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def format_message_date(when: dt.datetime | None, tz: ZoneInfo) -> str:
    """`message.date` text: "4 March 2026, 14:30" in `tz`; "" when unknown.

    Month names are spelt out here rather than by strftime, whose output follows the
    process locale.
    """
    if when is None:
        return ""
    local = when.astimezone(tz)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


# -- the sandbox -------------------------------------------------------------------------

_MAX_REPEAT = 100_000  # characters or items a "*" may build
_MAX_EXPONENT = 100


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus limits on "*" and "**", which could eat all memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponents above {_MAX_EXPONENT} are not allowed")
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) \
                        and len(seq) * count > _MAX_REPEAT:
                    raise SecurityError(f"repeating to more than {_MAX_REPEAT} items is not allowed")
        return {"*": operator.mul, "**": operator.pow}[op](left, right)


_TEXT_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_HTML_ENV = _Sandbox(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


def _environment(kind: str) -> _Sandbox:
    if kind == "form_letter":
        return _TEXT_ENV
    if kind == "html_email":
        return _HTML_ENV
    raise ValueError(f"template kind must be one of {', '.join(KINDS)}, not {kind!r}")


def one_line(text: str) -> str:
    """`text` as a safe header value: no control characters or line breaks, spaces collapsed."""
    # A subject is a header: CR or LF in it would let a merged value (the client's
    # own subject) inject headers (RFC 5322 section 2.2). Fold every control and
    # line-separator character to a space.
    cleaned = "".join(" " if ord(c) < 32 or c in "\x7f\x85\u2028\u2029" else c for c in text)
    return " ".join(cleaned.split())


def _render(env: _Sandbox, part: str, source: str, namespace: dict[str, Any]) -> str:
    try:
        return env.from_string(source).render(namespace)
    except TemplateSyntaxError as exc:
        raise TemplateError([f"{part}, line {exc.lineno}: {exc.message}"]) from None
    except Exception as exc:  # anything the user's template does wrong at render time
        raise TemplateError([f"{part}: {_describe(exc)}"]) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return f"not allowed in a template ({exc})"
    return str(exc) or type(exc).__name__


def _default_to_text(html: str) -> str:
    # Imported here so the rules need the parser only when an HTML template is
    # rendered without a converter; the parser owns the one html->text conversion.
    from mailroom.mail.parse import html_to_text

    return html_to_text(html)


def render_template(
    kind: str,
    subject: str,
    body: str,
    context: MergeContext,
    *,
    to_text: Callable[[str], str] | None = None,
) -> Rendered:
    """Render a template for `context`; raise TemplateError when it cannot be.

    The subject is always plain text on one line. A form letter gives text only; an
    HTML email gives the HTML and, through `to_text` (by default
    `mailroom.mail.parse.html_to_text`), its plain-text alternative.
    """
    env = _environment(kind)
    namespace = context.as_namespace()
    rendered_subject = one_line(_render(_TEXT_ENV, "Subject", subject, namespace))
    rendered_body = _render(env, "Body", body, namespace)
    if kind == "form_letter":
        return Rendered(rendered_subject, rendered_body, None)
    convert = to_text or _default_to_text
    return Rendered(rendered_subject, convert(rendered_body), rendered_body)


def preview(kind: str, subject: str, body: str, *,
            to_text: Callable[[str], str] | None = None) -> Rendered:
    """Render for the sample client and message of `SAMPLE_CONTEXT`."""
    return render_template(kind, subject, body, SAMPLE_CONTEXT, to_text=to_text)


def validate_template(kind: str, subject: str, body: str) -> list[str]:
    """Every problem with a template, as sentences for the form; [] when it is fine.

    Finds syntax errors, unknown merge fields and whole groups used as a field
    (`{{ client }}`), then renders against the sample context to catch sandbox
    violations and other errors at run time.
    """
    env = _environment(kind)
    problems: list[str] = []
    if not subject.strip():
        problems.append("The subject is empty.")
    if not body.strip():
        problems.append("The body is empty.")
    for part, source, part_env in (("Subject", subject, _TEXT_ENV), ("Body", body, env)):
        try:
            tree = part_env.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(f"{part}, line {exc.lineno}: {exc.message}")
            continue
        found = _field_problems(part, tree, part_env)
        if not found:
            try:
                _render(part_env, part, source, SAMPLE_CONTEXT.as_namespace())
            except TemplateError as exc:
                found = exc.problems
        problems.extend(found)
    return problems


def _field_problems(part: str, tree: nodes.Template, env: _Sandbox) -> list[str]:
    problems = []
    for name in sorted(meta.find_undeclared_variables(tree) - _GROUPS - set(env.globals)):
        problems.append(f"{part}: unknown merge field {{{{ {name} }}}}. {_known()}")
    used_as_group: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name in _GROUPS):
            continue
        used_as_group.add(id(node.node))
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if f"{node.node.name}.{key}" not in _FIELD_NAMES:
            problems.append(f"{part}, line {node.lineno}: unknown merge field "
                            f"{{{{ {node.node.name}.{key} }}}}. {_known(node.node.name)}")
    for node in tree.find_all(nodes.Name):
        if node.name in _GROUPS and node.ctx == "load" and id(node) not in used_as_group:
            problems.append(f"{part}, line {node.lineno}: {{{{ {node.name} }}}} is a group, "
                            f"not a field. {_known(node.name)}")
    return problems


def _known(group: str | None = None) -> str:
    names = [name for name in sorted(_FIELD_NAMES) if group is None or name.startswith(group + ".")]
    return "Use " + ", ".join(names) + "."
