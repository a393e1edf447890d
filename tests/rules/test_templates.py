"""Templates: merge fields, escaping, the sandbox, validation messages and preview."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailroom.errors import ConfigError
from mailroom.rules.sandbox import MAX_STEPS
from mailroom.rules.templates import (
    KINDS,
    MAX_SOURCE,
    MERGE_FIELDS,
    SAMPLE_CONTEXT,
    MergeContext,
    Rendered,
    TemplateError,
    first_name,
    format_message_date,
    merge_fields_used,
    one_line,
    preview,
    render_template,
    validate_template,
)

CONTEXT = MergeContext(
    client_name="Jane Doe",
    client_email="jane@client.example",
    message_subject="Prices & <dates>",
    company_name="Bright Lights",
    user_name="Sam",
)


def fake_text(html: str) -> str:
    return f"TEXT[{html}]"


def test_every_merge_field_is_a_context_field_and_back():
    names = [f.name for f in MERGE_FIELDS]
    assert len(names) == len(set(names))
    assert {n.replace(".", "_") for n in names} == {f.name for f in dataclasses.fields(MergeContext)}
    assert all(f.help.endswith(".") and f.sample for f in MERGE_FIELDS)


def test_every_merge_field_renders_its_sample():
    for field in MERGE_FIELDS:
        rendered = preview("form_letter", "x", "{{ " + field.name + " }}")
        assert rendered.text == field.sample, field.name


@pytest.mark.parametrize(
    ("kind", "subject", "body", "expected"),
    [
        ("form_letter", "Re: {{ message.subject }}", "Dear {{ client.first_name }},\n",
         Rendered("Re: Prices & <dates>", "Dear Jane,\n", None)),
        # Plain text is not escaped.
        ("form_letter", "Hi", "About: {{ message.subject }}",
         Rendered("Hi", "About: Prices & <dates>", None)),
        # HTML escapes merged values but not the template's own markup; the subject
        # (a header) is never HTML-escaped.
        ("html_email", "Re: {{ message.subject }}", "<p>About {{ message.subject }}</p>",
         Rendered("Re: Prices & <dates>", "TEXT[<p>About Prices &amp; &lt;dates&gt;</p>]",
                  "<p>About Prices &amp; &lt;dates&gt;</p>")),
        # Missing values are "", and can be defaulted in the template.
        ("form_letter", "Hi", "{{ company.phone or 'our office' }}", Rendered("Hi", "our office", None)),
        ("form_letter", "{{ company.name }}\r\nBcc: victim@x.example", "b",
         Rendered("Bright Lights Bcc: victim@x.example", "b", None)),
    ],
)
def test_render(kind, subject, body, expected):
    assert render_template(kind, subject, body, CONTEXT, to_text=fake_text) == expected


@pytest.mark.parametrize(
    "hostile_subject",
    ["Hello\r\nBcc: all@x.example", "Hello\nX-Evil: 1", "Hello\rX", "A\u2028B", "A\x85B", "A\x00B\tC"],
)
def test_subject_never_has_line_breaks_even_from_merged_values(hostile_subject):
    context = dataclasses.replace(CONTEXT, message_subject=hostile_subject)
    subject = render_template("form_letter", "Re: {{ message.subject }}", "b", context).subject
    assert not any(c in subject for c in "\r\n\x00\x85\u2028\t")
    assert subject.startswith("Re: ")


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ client.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(client) }}",
        "{{ client.update({'name': 'x'}) }}",
        "{{ client.clear() }}",
        "{{ 'x' * 1000000 }}",
        "{{ 9 ** 999999 }}",
        "{{ range(10000000) | list }}",
    ],
)
def test_sandbox_stops_escapes_and_exhaustion(body):
    with pytest.raises(TemplateError):
        render_template("form_letter", "s", body, CONTEXT)
    assert validate_template("form_letter", "s", body)


# Each of these took minutes or gigabytes before the limits (mailroom/rules/sandbox.py).
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Hi\n{{ '%0400000000d' % 1 }}", "body: line 2: widths and precisions above 1,000 are not allowed"),
        ("{{ '%*d' % (400000000, 1) }}", "body: line 1: a * width in %*d is not allowed"),
        ("{{ '%0400000000d'|format(1) }}", "body: line 1: widths and precisions above 1,000"),
        ("{{ '{:0400000000d}'.format(1) }}", "body: line 1: widths and precisions above 1,000"),
        ("{{ '{:>{w}}'.format(1, w=400000000) }}", "body: line 1: a {...} inside a format specification"),
        ("{{ '{0:0400000000}'|attr('format')(1) }}", "body: line 1: widths and precisions above 1,000"),
        ("{{ (10**100)**100 }}", "body: line 1: numbers above 10,000 bits are not allowed"),
        ("{{ ((10**100)**100)**100 }}", "body: line 1: numbers above 10,000 bits are not allowed"),
        ("{{ 'x'.ljust(400000000) }}", "body: line 1: not allowed in a template"),
        ("{{ (1).to_bytes(400000000, 'big') }}", "body: line 1: not allowed in a template"),
        ("{{ 'x'|center(400000000) }}", "body: line 1: widths and precisions above 1,000"),
        ("{{ [1]|batch(400000000, 'x')|list }}", "body: line 1: widths and precisions above 1,000"),
        ("{% set a = 'x' * 100000 %}{{ a|replace('x', a) }}", "body: line 1: the replaced text would be longer"),
        ("{% set a = 'x' * 100000 %}{{ range(1000)|join(a) }}", "body: line 1: the joined text would be longer"),
        ("{% set a = 'x' * 100000 %}{{ [a, a, a] }}", "body: line 1: a merged value would be longer than 256 KB"),
        ("{% set ns = namespace(x='ab') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
         "body: line 1: the text joined with ~ would be longer than 256 KB"),
        ("{% macro twice(s, n) %}{% if n %}{{ twice(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ twice('x', 40) }}",
         "body: line 1: the text joined with ~ would be longer than 256 KB"),
        ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "body: the result would be longer than 256 KB"),
        ("a\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         "body: line 2: it takes too long to render"),
        ("{% set big = 'x ' * 50000 %}{% for i in range(100000) %}{% if big.split() %}{% endif %}{% endfor %}",
         "body: line 1: it takes too long to render"),
        ("{% set big = 'xy' * 50000 %}{% for i in range(100000) %}{% if 'yx' in big %}{% endif %}{% endfor %}",
         "body: line 1: it takes too long to render"),
        ("{{ [1]|slice(400000000)|list|length }}", "body: line 1: it takes too long to render"),
        ("{{ lipsum(100000) }}", "body: line 1: unknown merge field {{ lipsum }}"),
        ("x" * (MAX_SOURCE + 1), "body: is longer than 65,536 characters"),
    ],
)
def test_templates_cannot_exhaust_cpu_or_memory(body, problem):
    found = validate_template("form_letter", "s", body)
    assert len(found) == 1 and found[0].startswith(problem), found
    with pytest.raises(TemplateError) as info:
        render_template("form_letter", "s", body, CONTEXT)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith("body: ")


def test_ordinary_loops_and_formatting_stay_allowed():
    body = ("{% for word in client.name.split() %}{{ loop.index }}:{{ word|upper }} {% endfor %}"
            "{{ '%5.1f' % 2.25 }} {{ '{:>6}'.format('x') }} {{ client.name|replace('Doe', 'D.') }} "
            "{{ [company.name, company.phone]|join(', ') }} {{ 2 ** 10 }} {{ '-' * 3 }}")
    assert render_template("form_letter", "s", body, CONTEXT).text == \
        "1:JANE 2:DOE   2.2      x Jane D. Bright Lights,  1024 ---"


def test_each_render_gets_a_fresh_step_budget():
    # about half of the budget: twice in a row must work both times
    body = "{% for i in range(" + str(MAX_STEPS // 2) + ") %}{% endfor %}done"
    for _ in range(2):
        assert render_template("form_letter", "s", body, CONTEXT).text == "done"


def test_template_error_is_a_config_error_listing_problems():
    with pytest.raises(ConfigError) as info:
        render_template("form_letter", "s", "{{ client.nmae }}", CONTEXT)
    assert info.value.field == "template" and info.value.problems


@pytest.mark.parametrize(
    ("kind", "subject", "body", "problems"),
    [
        ("form_letter", "Thanks, {{ client.first_name }}", "Dear {{ client.name }},\n{{ company.name }}", []),
        ("html_email", "Re: {{ message.subject }}",
         "<p>{% if user.name %}{{ user.name }}{% endif %}</p>", []),
        ("form_letter", "", "x", ["subject: is empty"]),
        ("form_letter", "s", "  ", ["body: is empty"]),
        ("form_letter", "s", "Dear {{ client.name ", ["body: line 1: unexpected end of template"]),
        ("form_letter", "s", "Dear\n{{ client.name }}\n{{ company.name } }}", ["body: line 3: unexpected '}'"]),
        ("form_letter", "{% if %}", "x", ["subject: line 1: "]),
        ("form_letter", "s", "Dear {{ client.nmae }}",
         ["body: line 1: unknown merge field {{ client.nmae }}. "
          "Use client.email, client.first_name, client.name."]),
        ("form_letter", "s", "Dear {{ client['nmae'] }}", ["unknown merge field {{ client.nmae }}"]),
        ("form_letter", "s", "\n\n{{ custmer.name }}", ["body: line 3: unknown merge field {{ custmer }}. Use "]),
        ("form_letter", "s", "Dear {{ client }}", ["body: line 1: {{ client }} is a group, not a field."]),
        ("form_letter", "s", "{{ ''.__class__ }}", ["body: line 1: not allowed in a template"]),
        ("form_letter", "s", "\n{{ 1 / 0 }}", ["body: line 2: division by zero"]),
        ("form_letter", "{{ company.nmae }}", "{{ client.x }}",
         ["subject: line 1: unknown merge field {{ company.nmae }}",
          "body: line 1: unknown merge field {{ client.x }}"]),
        ("form_letter", "s", "Hi\n{% include 'footer.txt' %}",
         ["body: line 2: {% include %} is not available in templates: include, import and extends"]),
        ("html_email", "s", "{% extends 'base.html' %}", ["body: line 1: {% extends %} is not available"]),
        ("form_letter", "s", "{% from 'm' import x %}{% import 'n' as y %}",
         ["body: line 1: {% import %} is not available", "body: line 1: {% import %} is not available"]),
        ("form_letter", "s", "{{ client.name|tojson }}", ["body: line 1: No filter named 'tojson'"]),
    ],
)
def test_validate_template(kind, subject, body, problems):
    found = validate_template(kind, subject, body)
    assert len(found) == len(problems), found
    for got, wanted in zip(found, problems, strict=True):
        assert wanted in got, (got, wanted)


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="template kind"):
        render_template("sms", "s", "b", CONTEXT)
    assert KINDS == ("form_letter", "html_email")


def test_merge_fields_used():
    assert merge_fields_used("Re: {{ message.subject }}", "{{ user['name'] }} {{ company.name }}") == \
        {"message.subject", "user.name", "company.name"}
    assert merge_fields_used("{{ user.name }}", "{% if x") == {"user.name"}   # a broken part names none


def test_preview_uses_the_sample_context():
    rendered = preview("html_email", "Thanks {{ client.first_name }}", "<b>{{ company.name }}</b>",
                       to_text=fake_text)
    assert rendered == Rendered(f"Thanks {SAMPLE_CONTEXT.client_first_name}",
                                f"TEXT[<b>{SAMPLE_CONTEXT.company_name}</b>]",
                                f"<b>{SAMPLE_CONTEXT.company_name}</b>")


def test_an_html_email_needs_the_converter_passed_in():
    with pytest.raises(ValueError, match="to_text"):
        render_template("html_email", "s", "<p>x</p>", CONTEXT)
    assert render_template("form_letter", "s", "x", CONTEXT).text == "x"     # a form letter needs none


@pytest.mark.parametrize(
    ("name", "first"),
    [("Jane Doe", "Jane"), ("  Jane  ", "Jane"), ("Doe, Jane", "Jane"), ("", ""), ("Cher", "Cher")],
)
def test_first_name(name, first):
    assert first_name(name) == first


def test_first_name_given_wins_over_the_derived_one():
    context = dataclasses.replace(CONTEXT, client_first_name="Janie")
    assert render_template("form_letter", "s", "{{ client.first_name }}", context).text == "Janie"


@pytest.mark.parametrize(
    ("when", "tz", "text"),
    [
        (dt.datetime(2026, 3, 4, 14, 30, tzinfo=dt.timezone.utc), ZoneInfo("Europe/London"),
         "4 March 2026, 14:30"),
        (dt.datetime(2026, 7, 1, 23, 5, tzinfo=dt.timezone.utc), ZoneInfo("Europe/Berlin"),
         "2 July 2026, 01:05"),
        (None, ZoneInfo("Europe/London"), ""),
    ],
)
def test_format_message_date(when, tz, text):
    assert format_message_date(when, tz) == text


@settings(database=None, max_examples=300)
@given(st.text())
def test_one_line_is_a_safe_header_value(text):
    line = one_line(text)
    assert not any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in line)
    assert line == line.strip() and "  " not in line
