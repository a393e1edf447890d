"""The controller, the one door for the faces: status, check now, pause, settings, passwords,
checks of unsaved settings, and the activity log — against real Dovecot, SMTP and keyring."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time

import pytest

from mailroom.controller import Controller
from mailroom.errors import ConfigError, CredentialError
from tests.mailgen import make_message
from tests.helpers import wait_until


@pytest.fixture
def controller(ctx):
    c = Controller(ctx)
    yield c
    c.shutdown()


def test_status_lists_every_mailbox_before_the_worker_starts(controller, configure):
    box = configure()
    status = controller.status()
    assert [(b.id, b.description, b.state) for b in status.mailboxes] == [(box.id, "Studio", "waiting")]
    assert status.paused is False and status.overall == "idle" and status.quarantined == 0


def test_check_now_imports_and_announces_what_arrived(controller, configure, mailbox_user):
    box = configure(poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)   # the first scheduled run
    seen: list = []
    unsubscribe = controller.subscribe(seen.append)
    mailbox_user.deliver_many(make_message(i, to=mailbox_user.address) for i in range(3))
    controller.check_now(box.id)
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 2)
    state = controller.status().mailbox(box.id)
    assert state.counts.imported == 3 and state.state == "waiting" and state.error is None
    assert len(state.new_messages) == 3 and all(m.subject and m.sender for m in state.new_messages)
    assert controller.status().unread == 3
    wait_until(lambda: any(s.mailbox(box.id).run_seq == 2 for s in seen))   # announced from the worker
    controller.acknowledge_new_mail()
    assert controller.status().unread == 0
    unsubscribe()
    later: list = []
    controller.subscribe(later.append)
    controller.check_now(box.id)
    wait_until(lambda: any(s.mailbox(box.id).run_seq == 3 for s in later))
    assert not any(s.mailbox(box.id).run_seq == 3 for s in seen)     # unsubscribed


def test_pause_is_announced_and_ends_by_itself(controller, configure):
    box = configure(poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    announced = threading.Event()
    controller.subscribe(lambda s: s.paused and announced.set())
    controller.set_paused(True)
    assert announced.is_set()
    status = controller.status()
    assert status.paused and status.paused_until is None and status.mailbox(box.id).state == "paused"
    assert status.overall == "paused"
    controller.set_paused(True, until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.3))
    assert controller.status().paused_until is not None
    wait_until(lambda: not controller.status().paused)


def test_a_pause_outlasts_a_restart(ctx, configure, mailbox_user):
    box = configure(poll_minutes=60)
    first = Controller(ctx)
    first.start()
    wait_until(lambda: first.status().mailbox(box.id).run_seq == 1)
    first.set_paused(True)
    first.shutdown()
    mailbox_user.deliver_many([make_message(1, to=mailbox_user.address)])

    again = Controller(ctx)
    try:
        again.start()
        assert again._worker.next_round()          # the round that would have checked at once
        status = again.status()
        assert status.paused and status.paused_until is None and status.mailbox(box.id).state == "paused"
        assert status.mailbox(box.id).run_seq == 0
        assert len(again.activity(limit=5, mailbox_id=box.id)) == 1        # only the run before the pause
        again.set_paused(False)                    # resuming is kept too
    finally:
        again.shutdown()
    third = Controller(ctx)
    try:
        third.start()
        wait_until(lambda: third.status().mailbox(box.id).run_seq == 1)
        assert third.status().paused is False and third.status().mailbox(box.id).counts.imported == 1
    finally:
        third.shutdown()


def test_a_timed_pause_outlasts_a_restart_and_one_that_ended_meanwhile_is_over(ctx, configure):
    box = configure(poll_minutes=60)
    first = Controller(ctx)
    first.start()
    wait_until(lambda: first.status().mailbox(box.id).run_seq == 1)
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    first.set_paused(True, until=until)
    first.shutdown()
    second = Controller(ctx)
    try:
        second.start()
        assert second._worker.next_round()
        status = second.status()
        assert status.paused and status.paused_until == until and status.mailbox(box.id).run_seq == 0
        soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.3)
        second.set_paused(True, until=soon)
    finally:
        second.shutdown()
    wait_until(lambda: dt.datetime.now(dt.timezone.utc) > soon)      # the pause ended while Mailroom was off
    third = Controller(ctx)
    try:
        third.start()
        wait_until(lambda: third.status().mailbox(box.id).run_seq == 1)
        assert third.status().paused is False
    finally:
        third.shutdown()


def test_a_failed_run_is_an_error_state_with_its_message(controller, configure):
    box = configure(password="wrong", poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    state = controller.status().mailbox(box.id)
    assert state.state == "error" and state.error_kind == "auth" and "password" in state.error.lower()
    assert controller.status().overall == "error"
    runs = controller.activity(limit=5, mailbox_id=box.id)
    assert runs and runs[0].error_kind == "auth" and runs[0].mailbox == "Studio"
    assert runs[0].error == state.error                                  # the activity log keeps the message


def test_save_entry_reports_each_problem_at_its_field(controller, configure):
    configure()
    entry = dict(controller.settings()["mailboxes"][0], port=70000, host="bad host")
    with pytest.raises(ConfigError) as caught:
        controller.save_entry("mailboxes", entry, key="Studio")
    problems = {p.field: p.message for p in caught.value.problems if p.path == caught.value.entry_path}
    assert set(problems) == {"port", "host"} and "65535" in problems["port"]


def test_rename_keeps_the_id_and_follows_references(controller, configure):
    box = configure(department="Front desk")
    department = dict(controller.settings()["departments"][0], name="Reception")
    controller.save_entry("departments", department, key="Front desk")
    doc = controller.settings()
    assert doc["mailboxes"][0]["department"] == "Reception"
    renamed = dict(doc["mailboxes"][0], description="Studio inbox")
    controller.save_entry("mailboxes", renamed, key="Studio")
    assert [(b.id, b.description) for b in controller.status().mailboxes] == [(box.id, "Studio inbox")]


def test_a_renamed_mailbox_keeps_its_live_state(controller, configure):
    box = configure(password="wrong", poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    before = controller.status().mailbox(box.id)
    assert before.failures == 1 and before.error_field == "password" and before.next_run_at is not None
    controller.save_entry("mailboxes", dict(controller.settings()["mailboxes"][0], description="Studio inbox"),
                          key="Studio")
    after = controller.status().mailbox(box.id)
    assert after.description == "Studio inbox"
    assert (after.state, after.failures, after.error_field) == ("error", 1, "password")
    assert after.next_run_at == before.next_run_at


def test_delete_is_refused_while_used_and_removes_the_password(controller, configure):
    box = configure(department="Front desk")
    with pytest.raises(ConfigError) as caught:
        controller.delete_entry("departments", "Front desk")
    assert 'mailbox "Studio"' in caught.value.message
    assert controller.has_password(box.id)
    controller.delete_entry("mailboxes", "Studio")
    assert controller.status().mailboxes == ()
    assert not controller.has_password(box.id)
    controller.delete_entry("departments", "Front desk")
    assert controller.settings()["departments"] == []


def test_an_unsaved_mailbox_is_tested_with_the_password_given(controller, configure, mailbox_user):
    configure()
    entry = dict(controller.settings()["mailboxes"][0], description="Not saved yet")
    with pytest.raises(CredentialError) as caught:
        controller.test_mailbox(entry, password="wrong")
    assert caught.value.field == "password"
    result = controller.test_mailbox(entry, password=mailbox_user.password)
    assert result.ok and result.count == 0
    tasks = dict(entry, create_tasks=True, task_type="Inquiry", autoreply=True, autoreply_template="Not yet made")
    assert controller.test_mailbox(tasks, password=mailbox_user.password).ok   # only the connection counts
    with pytest.raises(ConfigError) as caught:
        controller.test_mailbox(dict(entry, port="many"), password=mailbox_user.password)
    assert caught.value.field == "port"


def test_passwords_are_set_checked_and_cleared(controller, configure):
    box = configure()
    controller.clear_password(box.id)
    assert not controller.has_password(box.id)
    controller.clear_password(box.id)                                 # nothing saved: no error
    controller.set_password(box.id, "secret")
    assert controller.has_password(box.id)
    with pytest.raises(ConfigError):
        controller.set_password("outgoing", "")


def test_send_test_email_through_the_saved_account(controller, configure, smtp):
    configure()
    result = controller.send_test_email("someone@example.com")
    assert result.ok and "someone@example.com" in result.message
    assert len(smtp.capture.messages) == 1


def test_setting_sections_mirror_the_settings_table(controller):
    from mailroom.settings.fields import SECTIONS

    specs = controller.setting_sections()
    assert [s.name for s in specs] == [s.name for s in SECTIONS]
    for spec, section in zip(specs, SECTIONS):
        assert [(f.name, f.kind, f.help, f.required, f.ref) for f in spec.fields] == \
            [(f.name, f.kind, f.help, f.required, f.ref) for f in section.fields]
    box = next(s for s in specs if s.name == "mailboxes")
    assert box.key == "description" and box.field("security").choices == ("ssl", "starttls", "none")
    assert box.field("aliases").default == () and box.field("poll_minutes").default == 5
    hash(specs)                                                          # frozen all the way down


def test_check_entry_validates_without_saving(controller, configure):
    configure()
    before = controller.settings()
    good = dict(before["mailboxes"][0], description="Second", poll_minutes=10)
    assert controller.check_entry("mailboxes", good) == []
    with pytest.raises(ConfigError) as caught:
        controller.check_entry("mailboxes", dict(good, user="Nobody"))
    assert caught.value.field == "user" and caught.value.entry_path == "mailboxes[2]"
    assert controller.settings() == before


def test_a_mailbox_being_renamed_is_tested_with_its_saved_password(controller, configure):
    configure()
    renamed = dict(controller.settings()["mailboxes"][0], description="Renamed, not saved yet")
    with pytest.raises(ConfigError) as caught:
        controller.test_mailbox(renamed)
    assert caught.value.field == "password"
    assert controller.test_mailbox(renamed, key="Studio").ok
    assert controller.mailbox_id("Studio") == controller.status().mailboxes[0].id
    assert controller.mailbox_id("Renamed, not saved yet") is None


def test_template_preview_renders_sample_data_and_names_the_bad_line(controller):
    good = controller.preview_template("html_email", "Hi {{ client.first_name }}", "<p>{{ company.name }}</p>")
    assert good.problems == () and good.subject == "Hi Jane" and "Bright Lights Studio" in good.html
    bad = controller.preview_template("form_letter", "Hi", "Dear {{ client.first_name }},\n{% if %}\n")
    assert bad.html is None and any("line 2" in p for p in bad.problems)
    names = [f.name for f in controller.merge_fields()]
    assert "client.first_name" in names and all(f.help and f.sample for f in controller.merge_fields())


def test_the_install_id_is_random_per_install_and_kept(controller, ctx, tmp_path, monkeypatch):
    assert Controller(ctx).install_id == controller.install_id           # kept in the store
    monkeypatch.setenv("MAILROOM_HOME", str(tmp_path / "other-install"))
    assert Controller.open().install_id != controller.install_id


def test_a_changed_poll_interval_reschedules_at_once(controller, configure):
    box = configure(poll_minutes=60)
    controller.start()
    wait_until(lambda: controller.status().mailbox(box.id).run_seq == 1)
    first = controller.status().mailbox(box.id)
    assert first.next_run_at - first.last_run_at > dt.timedelta(minutes=59)
    controller.save_entry("mailboxes", dict(controller.settings()["mailboxes"][0], poll_minutes=2), key="Studio")
    wait_until(lambda: controller.status().mailbox(box.id).next_run_at - first.last_run_at
               < dt.timedelta(minutes=3))
    assert controller.status().mailbox(box.id).run_seq == 1         # rescheduled, not run again


def test_start_at_login_is_shown_and_toggled_through_the_controller(controller, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    seen: list = []
    controller.subscribe(seen.append)
    assert controller.autostart_status().on is False
    assert controller.set_autostart(True).on is True and seen            # the faces hear of it
    status = controller.autostart_status()
    assert status.program == (sys.executable, "-m", "mailroom") and status.warning is None
    assert (tmp_path / "config" / "autostart" / "mailroom.desktop").is_file()
    assert controller.set_autostart(False).on is False


def test_new_mail_notifications_follow_the_company_setting(controller, configure):
    configure()
    assert controller.notify_new_mail() is True                          # the default
    company = dict(controller.settings()["company"], notify_new_mail=False)
    controller.save_section("company", company)
    assert controller.notify_new_mail() is False
