"""`mailroom explain` in words: the decision (importer.describe's data) as sentences.

Pure formatting for the command line; it decides nothing and reads nothing.
"""

from __future__ import annotations


_VIA = {"in-reply-to": "its In-Reply-To header", "references": "its References header",
        "our-token": "the signed Message-ID of one of our own emails"}


def _quoted(text: str | None) -> str:
    return f'"{text}"' if text else "(no subject)"


def sentences(d: dict) -> list[str]:
    """One line per finding: what the email is, what happens to it, and why."""
    lines = [f'As mailbox "{d["mailbox"]}", for the email from {d["from"] or "an unknown sender"} '
             f'with subject {_quoted(d["subject"])} (Message-ID <{d["message_id"]}>):']
    stored = d.get("already_stored")
    cutoff = d.get("cutoff")
    if stored:
        lines.append(f"It is already stored (message {stored['message_pk']}): a fetch would count it as a "
                     "duplicate; nothing would be filed or sent again. Were it new:")
    elif cutoff and cutoff["skipped"]:
        lines.append(f"It would be skipped and never downloaded: it is dated {cutoff['date'][:10]}, before "
                     f"the mailbox's exclude_before ({cutoff['exclude_before']}). Were it newer:")

    client = d["client"]
    if client["match"] == "new":
        lines.append(f"Client: a new client would be created, {client['name'] or client['email']} "
                     f"<{client['email']}>.")
    elif client["match"] == "existing":
        extra = " (several clients share this address; the first was chosen)" if client["ambiguous"] else ""
        lines.append(f"Client: it belongs to the existing client {client['client_id']}{extra}.")
    else:
        lines.append(f"Client: none. {client['reason']}")

    conversation = d["conversation"]
    if conversation["is_reply"]:
        where = (f"conversation {conversation['conversation_id']}" if conversation["conversation_id"]
                 else "an earlier conversation")
        how = _VIA.get(conversation["via"], conversation["via"])
        lines.append(f"Conversation: it replies to {where} (found by {how}).")
    else:
        lines.append("Conversation: it starts a new one.")

    task = d["task"]
    if task["action"] == "create":
        lines.append(f"Task: a new task would be opened, {_quoted(task['title'])}.")
    elif task["action"] == "join":
        lines.append(f"Task: it would be filed under the existing task {task['task_id']}.")
    else:
        lines.append(f"Task: none. {task['reason']}")

    reply = d["autoreply"]
    if reply["send"]:
        lines.append(f"Auto-reply: one would be sent to {reply['to']}. {reply['reason']}")
    else:
        blocked = reply.get("blocked_by") or [{"reason": reply["reason"]}]
        lines.append("Auto-reply: none, because:" if len(blocked) > 1 else f"Auto-reply: none. {blocked[0]['reason']}")
        if len(blocked) > 1:
            lines += [f"  - {b['reason']}" for b in blocked]
    if cutoff and not cutoff["skipped"]:
        dated = f"it is dated {cutoff['date'][:10]}" if cutoff["date"] else "it has no date"
        lines.append(f"Cutoff: {dated}, so the mailbox's exclude_before ({cutoff['exclude_before']}) "
                     "does not skip it.")
    return lines
