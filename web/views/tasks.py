"""Tasks: filtered by department, user, status, type, client and open/closed; each one's
status and assignee changed in place (a POST with the CSRF token, then back to the list)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField

from mailroom.errors import MailroomError
from mailroom.model import TaskFilter
from web.views import controller

bp = Blueprint("tasks", __name__)

STATE_WORDS = {"open": "Open", "closed": "Closed", "all": "All"}


class TaskForm(FlaskForm):
    status = SelectField("Status", validate_choice=False)
    user = SelectField("Assigned to", validate_choice=False)
    back = HiddenField()


def _filter() -> TaskFilter:
    args = request.args
    state = args.get("state", "open")
    return TaskFilter(department=args.get("department") or None, user=args.get("user") or None,
                      status=args.get("status") or None, task_type=args.get("type") or None,
                      state=state if state in STATE_WORDS else "open", client_id=args.get("client", type=int))


@bp.get("/tasks")
def index():
    """The tasks that match the filters (open ones by default), newest first."""
    c = controller()
    where = _filter()
    page = c.records.tasks(where, after=request.args.get("after"))
    doc = c.settings()
    statuses = [(s["name"], s.get("task_type"), s["final"]) for s in doc["task_statuses"]]
    client = c.records.client(where.client_id) if where.client_id is not None else None
    query = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template("tasks.html", page=page, where=where, doc=doc, statuses=statuses, client=client,
                           query=query, back=request.full_path.rstrip("?"), form=TaskForm(), states=STATE_WORDS)


def _back(target: str | None) -> str:
    """Where to return after a change: a path of this page only (never another site)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("tasks.index")


@bp.post("/tasks/<int:task_id>")
def update(task_id: int):
    """Give a task another status and/or assignee."""
    form = TaskForm()
    if form.validate():
        try:
            task = controller().records.update_task(task_id, status=form.status.data or None, user=form.user.data)
            flash(f'"{task.title}" is now {task.status or "without a status"}'
                  f'{", assigned to " + task.user if task.user else ", not assigned"}'
                  f'{" (closed)" if task.closed else ""}.', "ok")
        except MailroomError as exc:
            flash(exc.message, "error")
    return redirect(_back(form.back.data))
