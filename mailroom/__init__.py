"""Mailroom: files client email, opens tasks and sends auto-replies.

The core package. It holds no GUI toolkit and no web framework. Its layers, from the
top; a layer calls those below it, never those above (tests/test_layers.py holds that
no modules import each other in a circle, and that rules/ imports nothing of the shell):

    cli.py · web/ · tray/        faces: read input, show output (the page and the tray
                                 import only controller, errors and model)
    controller.py                the one door: status and subscribers, check now, pause,
                                 settings, passwords, checks, activity, one fetch now
    worker.py · outbox.py ·      the shell: the schedule and its threads, the outbox's
    fetch.py · importer.py ·     sender, one mailbox run, one message's import, the
    checks.py · context.py       connection checks, the opened install
    mail/ · store/ · settings/   protocols and parsing (a Connector per incoming
                                 protocol) · SQL and migrations · the settings table,
                                 its validation and its storage
    rules/                       pure decisions over frozen data: client, thread, task,
                                 auto-reply, templates, cutoff, outbox steps, the words
                                 for a failed connection (choices and defaults read
                                 from the settings table, settings/fields.py)
    model.py · errors.py         the plain data and the errors every layer shares
"""

__version__ = "0.1.0"
