"""The header's search box: clients, messages and tasks for one query."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from web.views import controller

bp = Blueprint("search", __name__)


@bp.get("/search")
def index():
    """Clients by name or address, messages by subject, sender or text (ranked), tasks by title."""
    query = request.args.get("q", "")[:200]
    results = controller().records.search(query, more=request.args.get("more"))
    return render_template("search.html", results=results, search_query=results.query,
                           more=bool(request.args.get("more")))
