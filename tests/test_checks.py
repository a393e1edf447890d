"""`mailroom check` and `mailroom test-email` against real servers, one real fault per error kind."""

from __future__ import annotations

import json
import shutil
import tomllib

import pytest

from mailroom.context import Context
from mailroom.store import mailboxes
from tests.helpers import mailbox, outgoing, settings, write_toml
from tests.servers.scripted import ScriptedPop3, closed_port, silent_port


@pytest.fixture
def configure(run_cli, tmp_path):
    """configure(doc, passwords={"Sales": "pw", "outgoing": "pw"}) imports settings and saves passwords."""

    def apply(doc: dict, passwords: dict[str, str]) -> None:
        result = run_cli("config", "import", str(write_toml(tmp_path / "settings.toml", doc)))
        assert result.returncode == 0, result.stderr
        for name, password in passwords.items():
            args = ("password", "set", "outgoing") if name == "outgoing" else ("password", "set", "mailbox", name)
            result = run_cli(*args, input=password + "\n")
            assert result.returncode == 0, result.stderr

    return apply


def check(run_cli, description="Box", timeout="5") -> dict:
    result = run_cli("check", description, "--json", "--timeout", timeout)
    report = json.loads(result.stdout)
    assert (result.returncode == 0) == report["ok"], result
    return report


def pop_box(user, port, **kw) -> dict:
    return mailbox("Box", port=port, user=user.name, email=user.address, **kw)


def test_check_succeeds_over_pop3s_and_stls_and_counts_messages(configure, run_cli, mailbox_user, dovecot, certs):
    mailbox_user.deliver_many([b"Subject: a\r\n\r\nA\r\n", b"Subject: b\r\n\r\nB\r\n"])
    for security, port in (("ssl", dovecot.pop3s_port), ("starttls", dovecot.pop3_port)):
        configure(settings(mailboxes=[pop_box(mailbox_user, port, security=security, ca_file=certs.ca_crt)]),
                  {"Box": mailbox_user.password})
        report = check(run_cli)
        assert report["ok"] and report["count"] == 2, report
    result = run_cli("check", "Box")
    assert result.returncode == 0
    assert result.stdout.strip() == 'Mailbox "Box" works: 2 messages on 127.0.0.1.'


def test_domain_logins_are_domain_backslash_user(configure, run_cli, dovecot, certs):
    box = mailbox("Box", port=dovecot.pop3s_port, user="frontdesk", domain="CORP", email="desk@corp.example",
                  ca_file=certs.ca_crt)
    configure(settings(mailboxes=[box]), {"Box": "frontdeskpw"})
    assert check(run_cli)["ok"]


@pytest.mark.parametrize("case", ["wrong password", "server name typo", "refused port", "silent port",
                                  "ssl on a plain port", "plain on an ssl port", "ca not trusted",
                                  "self-signed", "no stls", "no uidl"])
def test_each_pop3_fault_names_its_kind_and_field(case, configure, run_cli, mailbox_user, dovecot, certs,
                                                  dovecot_no_stls, dovecot_untrusted):
    password, ca = mailbox_user.password, certs.ca_crt
    expected = {
        "wrong password": ("auth", "password"), "server name typo": ("dns", "host"),
        "refused port": ("connect", "port"), "silent port": ("timeout", "port"),
        "ssl on a plain port": ("tls", "security"), "plain on an ssl port": ("tls", "security"),
        "ca not trusted": ("certificate", "ca_file"), "self-signed": ("certificate", "ca_file"),
        "no stls": ("starttls", "security"), "no uidl": ("uidl", "host"),
    }[case]
    scripted = None
    if case == "wrong password":
        box, password = pop_box(mailbox_user, dovecot.pop3s_port, ca_file=ca), "not-the-password"
    elif case == "server name typo":
        box = pop_box(mailbox_user, 995, host="pop.nonexistent-mailroom-test.invalid")
    elif case == "refused port":
        box = pop_box(mailbox_user, closed_port())
    elif case == "ssl on a plain port":
        box = pop_box(mailbox_user, dovecot.pop3_port, security="ssl", ca_file=ca)
    elif case == "plain on an ssl port":
        box = pop_box(mailbox_user, dovecot.pop3s_port, security="none")
    elif case == "ca not trusted":
        box = pop_box(mailbox_user, dovecot.pop3s_port)                  # the test CA is not in the OS store
    elif case == "self-signed":
        box = pop_box(mailbox_user, dovecot_untrusted.pop3s_port, ca_file=ca)
    elif case == "no stls":
        box = pop_box(mailbox_user, dovecot_no_stls.pop3_port, security="starttls")
    elif case == "no uidl":
        scripted = ScriptedPop3([b"Subject: x\r\n\r\nx\r\n"], uidl=False).start()
        box = mailbox("Box", port=scripted.port, user=scripted.user, email="s@localhost", security="none")
        password = scripted.password
    if case == "silent port":
        with silent_port() as port:
            configure(settings(mailboxes=[pop_box(mailbox_user, port, security="none")]), {"Box": password})
            report = check(run_cli, timeout="1")
    else:
        configure(settings(mailboxes=[box]), {"Box": password})
        report = check(run_cli, timeout="2")
    if scripted:
        scripted.stop()
    assert (report["ok"], report["error_kind"], report["field"]) == (False, *expected), report
    assert password not in report["message"]
    if case == "self-signed":
        assert "Untrusted Test CA" in report["message"] and "127.0.0.1" in report["message"]
    if case == "ca not trusted":
        assert "issued by" in report["message"]
    plain = run_cli("check", "Box", "--timeout", "2" if case != "silent port" else "1")
    assert plain.returncode != 0 and plain.stdout == ""
    assert len(plain.stderr.strip().splitlines()) == 1, plain.stderr


def test_test_email_is_delivered_over_starttls_and_ssl(configure, run_cli, smtp, certs):
    for security, port in (("starttls", smtp.submission_port), ("ssl", smtp.smtps_port)):
        smtp.capture.clear()
        configure(settings(outgoing=outgoing(smtp, port=port, security=security, ca_file=certs.ca_crt)),
                  {"outgoing": "studiopw"})
        result = run_cli("test-email", "--to", "client@example.com", "--json")
        assert json.loads(result.stdout)["ok"], result
        [sent] = smtp.capture.wait_for(1)
        assert sent["rcpt_tos"] == ["client@example.com"] and sent["login"] == "studio@localhost"
        assert sent["tls"] is True
        assert sent["msg"]["Subject"] == "Mailroom test email"


def test_plain_smtp_only_when_chosen(configure, run_cli, smtp):
    configure(settings(outgoing=outgoing(smtp, port=smtp.plain_port, security="none")), {"outgoing": "studiopw"})
    result = run_cli("test-email", "--json")
    assert json.loads(result.stdout)["ok"], result
    [sent] = smtp.capture.wait_for(1)
    assert sent["tls"] is False and sent["listener"] == "plain"


@pytest.mark.parametrize("case,expected", [
    ("wrong password", ("auth", "password")),
    ("no starttls", ("starttls", "security")),
    ("self-signed", ("certificate", "ca_file")),
    ("refused", ("connect", "port")),
])
def test_each_smtp_fault_names_its_kind_and_field(case, expected, configure, run_cli, smtp, certs):
    ca, password = certs.ca_crt, "studiopw"
    if case == "wrong password":
        out, password = outgoing(smtp, ca_file=ca), "wrong"
    elif case == "no starttls":
        out = outgoing(smtp, port=smtp.plain_port, ca_file=ca)
    elif case == "self-signed":
        out = outgoing(smtp, port=smtp.smtps_untrusted_port, security="ssl", ca_file=ca)
    else:
        out = outgoing(smtp, port=closed_port(), ca_file=ca)
    configure(settings(outgoing=out), {"outgoing": password})
    result = run_cli("test-email", "--json", "--timeout", "2")
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert (report["error_kind"], report["field"]) == expected, report
    assert len(smtp.capture) == 0


def test_a_ca_file_under_the_home_folder_can_be_written_with_a_tilde(run_cli, mailbox_user, dovecot, certs, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(certs.ca_crt, home / "studio-ca.pem")
    env = {"HOME": str(home)}
    box = pop_box(mailbox_user, dovecot.pop3s_port, ca_file="~/studio-ca.pem")
    result = run_cli("config", "import", str(write_toml(tmp_path / "settings.toml", settings(mailboxes=[box]))),
                     env=env)
    assert result.returncode == 0, result.stderr
    assert run_cli("password", "set", "mailbox", "Box", input=mailbox_user.password + "\n", env=env).returncode == 0
    report = json.loads(run_cli("check", "Box", "--json", env=env).stdout)
    assert report["ok"], report
    exported = tomllib.loads(run_cli("config", "export", "-").stdout)
    assert exported["mailboxes"][0]["ca_file"] == str(home / "studio-ca.pem")   # stored expanded


def test_a_stored_ca_file_with_a_tilde_is_expanded_when_used(monkeypatch, tmp_path):
    # settings saved before ca_file was stored expanded may still hold "~/..."
    monkeypatch.setenv("HOME", str(tmp_path))
    ctx = Context(engine=None, install_id="x", secrets=None)
    box = mailboxes.from_entry({"protocol": "pop3", "host": "pop.x.example", "port": 995, "security": "ssl",
                                "username": "u", "email": "u@x.example", "domain": "", "ca_file": "~/ca.pem"})
    assert ctx.mailbox_endpoint(box).ca_file == str(tmp_path / "ca.pem")


# 0.0.0.0 is not a loopback name, yet on Linux a connection to it reaches the servers
# on 127.0.0.1: it stands in for "another computer" while the traffic stays on this one.
ELSEWHERE = "0.0.0.0"


def test_a_password_sent_in_plain_text_to_another_computer_is_warned_about(configure, run_cli, smtp,
                                                                            mailbox_user, dovecot):
    out = outgoing(smtp, port=smtp.plain_port, security="none")
    box = pop_box(mailbox_user, dovecot.pop3_port, security="none")
    configure(settings(outgoing=out, mailboxes=[box]), {"outgoing": "studiopw", "Box": mailbox_user.password})
    assert json.loads(run_cli("test-email", "--json").stdout)["warnings"] == []       # 127.0.0.1: this computer
    assert check(run_cli)["warnings"] == []
    configure(settings(outgoing={**out, "host": ELSEWHERE}, mailboxes=[{**box, "host": ELSEWHERE}]),
              {"outgoing": "studiopw", "Box": mailbox_user.password})
    report = json.loads(run_cli("test-email", "--json").stdout)
    assert report["ok"] and report["warnings"] == [
        f'SMTP: security = "none" sends the password to {ELSEWHERE} unencrypted, so anyone on the network in '
        'between can read it; use "ssl" or "starttls" if the server offers them.'], report
    report = check(run_cli)
    assert report["ok"] and report["warnings"][0].startswith(f'POP3: security = "none" sends the password to {ELSEWHERE}')
