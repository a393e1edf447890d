"""Auto-reply templates: merge fields, sandboxed rendering, validation and preview.

A template is a subject and a body written by the business, with merge fields such as
`{{ client.first_name }}`. Two kinds: "form_letter" (plain text) and "html_email"
(HTML, with merged values HTML-escaped and a plain-text alternative generated).
Rendering happens in Jinja's immutable sandbox with `StrictUndefined`, so a template
cannot reach Python internals (`{{ ''.__class__ }}` fails), cannot mutate what it is
given, and a misspelt field is an error rather than a silent blank; the sandbox's
limits on size and work (mailroom/rules/sandbox.py) keep a render short and small.

Pure: no files, no database, no clock. The context is passed in; this module never
looks anything up. Errors users must fix are raised as `TemplateError`, each problem
worded as `body: line 3: unexpected '}'` so settings can prefix `templates[2].`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Literal
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SecurityError

from mailroom.errors import ConfigError
from mailroom.rules.sandbox import MAX_TEXT, LimitedSandbox, LimitError, limits
from mailroom.settings.fields import SECTION

Kind = Literal["form_letter", "html_email"]
KINDS: tuple[str, ...] = SECTION["templates"].by_name["kind"].choices
MAX_SOURCE = 64 * 1024  # characters of a subject or body as written


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

_TEXT_ENV = LimitedSandbox(autoescape=False)
_HTML_ENV = LimitedSandbox(autoescape=True)


def _environment(kind: str) -> LimitedSandbox:
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


def _problem(part: str, message: str, line: int | None = None) -> str:
    return f"{part}: line {line}: {message}" if line else f"{part}: {message}"


_NO_LOADER = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
_TAG = {nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "import", nodes.Extends: "extends"}


def _parse(env: LimitedSandbox, part: str, source: str) -> nodes.Template:
    """The syntax tree of one part; TemplateError for what can never render."""
    if len(source) > MAX_SOURCE:
        raise TemplateError([_problem(part, f"is longer than {MAX_SOURCE:,} characters")])
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError([_problem(part, exc.message or "syntax error", exc.lineno)]) from None
    # A template is one text: there are no other templates to take parts from.
    problems = [_problem(part, f"{{% {_TAG[type(node)]} %}} is not available in templates: include, "
                         "import and extends need other template files, and there are none", node.lineno)
                for node in tree.find_all(_NO_LOADER)]
    if problems:
        raise TemplateError(problems)
    return tree


def _compile(env: LimitedSandbox, part: str, source: str) -> tuple[nodes.Template, Any]:
    """(syntax tree, compiled template); TemplateError for syntax and unknown filters or tests."""
    tree = _parse(env, part, source)
    try:
        return tree, env.from_string(tree)
    except TemplateSyntaxError as exc:   # also TemplateAssertionError: "No filter named ..."
        raise TemplateError([_problem(part, exc.message or "syntax error", exc.lineno)]) from None


def _template_line(exc: BaseException) -> int | None:
    """The template line a render error happened on (Jinja rewrites tracebacks to show it)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render(env: LimitedSandbox, part: str, source: str, namespace: dict[str, Any]) -> str:
    _tree, template = _compile(env, part, source)
    chunks, total = [], 0
    try:
        with limits():
            for chunk in template.generate(namespace):
                total += len(chunk)
                if total > MAX_TEXT:
                    raise LimitError(f"the result would be longer than {MAX_TEXT // 1024:,} KB")
                chunks.append(chunk)
    except Exception as exc:  # anything the user's template does wrong at render time
        raise TemplateError([_problem(part, _describe(exc), _template_line(exc))]) from None
    return "".join(chunks)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SecurityError):
        return f"not allowed in a template ({exc})"
    if isinstance(exc, RecursionError):
        return "a macro or loop calls itself too deeply"
    return str(exc) or type(exc).__name__


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
    HTML email gives the HTML and, through `to_text`, its plain-text alternative: the
    shell passes the parser's converter (mailroom.mail.display.html_to_text), so the
    rules import nothing from mail/. ValueError for an HTML email without one.
    """
    env = _environment(kind)
    if kind == "html_email" and to_text is None:
        raise ValueError("an HTML email template needs to_text, the HTML-to-text converter")
    namespace = context.as_namespace()
    rendered_subject = one_line(_render(_TEXT_ENV, "subject", subject, namespace))
    rendered_body = _render(env, "body", body, namespace)
    if kind == "form_letter":
        return Rendered(rendered_subject, rendered_body, None)
    return Rendered(rendered_subject, to_text(rendered_body), rendered_body)


def preview(kind: str, subject: str, body: str, *,
            to_text: Callable[[str], str] | None = None) -> Rendered:
    """Render for the sample client and message of `SAMPLE_CONTEXT`."""
    return render_template(kind, subject, body, SAMPLE_CONTEXT, to_text=to_text)


def validate_template(kind: str, subject: str, body: str) -> list[str]:
    """Every problem with a template, as `body: line 3: problem`; [] when it is fine.

    Finds syntax errors, tags that need other templates, unknown merge fields and
    whole groups used as a field (`{{ client }}`), then renders against the sample
    context to catch sandbox violations, limits and other errors at run time.
    """
    env = _environment(kind)
    problems: list[str] = []
    for part, source, part_env in (("subject", subject, _TEXT_ENV), ("body", body, env)):
        if not source.strip():
            problems.append(_problem(part, "is empty"))
            continue
        try:
            tree, _template = _compile(part_env, part, source)
        except TemplateError as exc:
            problems.extend(exc.problems)
            continue
        found = _field_problems(part, tree, part_env)
        if not found:
            try:
                _render(part_env, part, source, SAMPLE_CONTEXT.as_namespace())
            except TemplateError as exc:
                found = exc.problems
        problems.extend(found)
    return problems


def merge_fields_used(subject: str, body: str) -> set[str]:
    """The merge fields a template names ("user.name", ...); unparsable parts name none."""
    used = set()
    for source in (subject, body):
        try:
            tree = _TEXT_ENV.parse(source)
        except TemplateSyntaxError:
            continue
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if isinstance(node.node, nodes.Name) and node.node.name in _GROUPS:
                key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
                used.add(f"{node.node.name}.{key}")
    return used


def _field_problems(part: str, tree: nodes.Template, env: LimitedSandbox) -> list[str]:
    problems = []
    for name in sorted(meta.find_undeclared_variables(tree) - _GROUPS - set(env.globals)):
        line = min(node.lineno for node in tree.find_all(nodes.Name) if node.name == name)
        problems.append(_problem(part, f"unknown merge field {{{{ {name} }}}}. {_known()}", line))
    used_as_group: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name in _GROUPS):
            continue
        used_as_group.add(id(node.node))
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if f"{node.node.name}.{key}" not in _FIELD_NAMES:
            problems.append(_problem(part, f"unknown merge field {{{{ {node.node.name}.{key} }}}}. "
                                     f"{_known(node.node.name)}", node.lineno))
    for node in tree.find_all(nodes.Name):
        if node.name in _GROUPS and node.ctx == "load" and id(node) not in used_as_group:
            problems.append(_problem(part, f"{{{{ {node.name} }}}} is a group, not a field. "
                                     f"{_known(node.name)}", node.lineno))
    return problems


def _known(group: str | None = None) -> str:
    names = [name for name in sorted(_FIELD_NAMES) if group is None or name.startswith(group + ".")]
    return "Use " + ", ".join(names) + "."
