"""Clients: the list with search and counts, a client's page (addresses, timeline),
merging two clients, and the messages filed under no client (or one of several)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired

from mailroom.errors import MailroomError
from web.views import controller

bp = Blueprint("clients", __name__)


class AddressForm(FlaskForm):
    email = StringField("Add an address", validators=[DataRequired("Type the address to add.")],
                        description="Mail from this address is filed under this client from now on.")


class RemoveAddressForm(FlaskForm):
    email = HiddenField(validators=[DataRequired()])


class ClientChoiceForm(FlaskForm):
    client = IntegerField(validators=[InputRequired()])


class NewClientForm(FlaskForm):
    name = StringField("Name of the new client", validators=[DataRequired("Give the client a name.")])


def records():
    return controller().records


@bp.get("/clients")
def index():
    """Every client A to Z, or those whose name or address contains the words searched for."""
    text = request.args.get("q", "").strip()
    page = records().clients(text, after=request.args.get("after"))
    return render_template("clients.html", page=page, text=text)


@bp.get("/clients/<int:client_id>")
def show(client_id: int):
    """One client: addresses, counts, and their messages and tasks, newest first."""
    r = records()
    client = r.client(client_id)
    timeline = r.timeline(client_id, after=request.args.get("after"))
    return render_template("client.html", client=client, timeline=timeline, form=AddressForm())


@bp.post("/clients/<int:client_id>/addresses")
def add_address(client_id: int):
    form = AddressForm()
    if not form.validate():
        flash(" ".join(form.email.errors), "error")
    else:
        try:
            others = records().add_client_email(client_id, form.email.data)
            flash(f"{form.email.data.strip().lower()} added.", "ok")
            if others:
                flash("Other clients have this address too (" + ", ".join(name for _i, name in others) +
                      "): mail from it is filed under one of them and marked as ambiguous. Merge them if they "
                      "are the same person.", "error")
        except MailroomError as exc:
            flash(exc.message, "error")
    return redirect(url_for("clients.show", client_id=client_id))


@bp.post("/clients/<int:client_id>/addresses/remove")
def remove_address(client_id: int):
    form = RemoveAddressForm()
    if form.validate():
        try:
            records().remove_client_email(client_id, form.email.data)
            flash(f"{form.email.data} removed. Mail already filed stays with this client.", "ok")
        except MailroomError as exc:
            flash(exc.message, "error")
    return redirect(url_for("clients.show", client_id=client_id))


@bp.route("/clients/<int:client_id>/merge", methods=["GET", "POST"])
def merge(client_id: int):
    """Choose the client to merge into this one, confirm, merge (one transaction)."""
    r = records()
    client = r.client(client_id)
    form = ClientChoiceForm()
    if request.method == "POST" and form.validate():
        try:
            kept = r.merge_clients(client_id, form.client.data)
        except MailroomError as exc:
            flash(exc.message, "error")
            return redirect(url_for("clients.merge", client_id=client_id))
        flash(f"Merged: {kept.name} now has {kept.messages} messages and {len(kept.emails)} "
              f"address{'es' if len(kept.emails) != 1 else ''}.", "ok")
        return redirect(url_for("clients.show", client_id=client_id))
    other_id = request.args.get("other", type=int)
    other = r.client(other_id) if other_id is not None else None
    text = request.args.get("q", "").strip()
    found = r.clients(text, limit=20).items if text and other is None else ()
    return render_template("merge.html", client=client, other=other, text=text,
                           found=[c for c in found if c.id != client_id], form=form)


@bp.get("/clients/unfiled")
def unfiled():
    """Messages from unknown senders (left unmatched) and from addresses several clients share."""
    return render_template("unfiled.html", page=records().unfiled(after=request.args.get("after")))


@bp.route("/messages/<int:pk>/file", methods=["GET", "POST"])
def file_message(pk: int):
    """Attach a message to a client (found by search, or one of its sender's clients), or make a new one."""
    r = records()
    message = r.message(pk)
    choice, new = ClientChoiceForm(), NewClientForm()
    action = request.form.get("action")
    try:
        if request.method == "POST" and action == "attach" and choice.validate():
            added = r.attach_message(pk, choice.client.data)
            client = r.client(choice.client.data)
            flash(f'Filed under {client.name}.' + (f" Mail from {message.from_addr} will be filed there from now "
                                                    "on." if added else ""), "ok")
            return redirect(url_for("messages.show", pk=pk))
        if request.method == "POST" and action == "new" and new.validate():
            client_id = r.new_client_for(pk, new.name.data)
            flash(f"New client {new.name.data.strip()} made, with this message.", "ok")
            return redirect(url_for("clients.show", client_id=client_id))
    except MailroomError as exc:
        flash(exc.message, "error")
    if request.method == "GET":
        new.name.data = message.from_name or message.from_addr
    text = request.args.get("q", "").strip()
    found = r.clients(text, limit=20).items if text else ()
    senders = r.clients(message.from_addr, limit=20).items if message.from_addr else ()
    return render_template("file_message.html", message=message, text=text, found=found, senders=senders,
                           choice=choice, new=new)
