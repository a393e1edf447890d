"""SECURITY.md 2-10 for the page: Host allow-list, one-time login, cookie, CSRF, Origin gate,
read-only GETs, security headers, no tracebacks, and a canary password that never shows."""

from __future__ import annotations

import os
import re

import pytest

from mailroom import instance
from tests.web.conftest import BASE, INSTANCE_KEY, PORT, log_in
from web import mint_login_url
from web.views import auth

CANARY = "Canary-Page-51c9e-Pa55w0rd!"


def routes(app):
    """(method, path) of every route in the url_map, with sample values for its arguments."""
    for rule in app.url_map.iter_rules():
        def sample(match, endpoint=rule.endpoint):
            if endpoint == "static":
                return "style.css"
            return {"int": "1", "path": "x"}.get(match[1], "departments")
        path = re.sub(r"<(?:(\w+):)?(\w+)>", sample, rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def test_every_route_refuses_a_foreign_host(app, page):
    checked = list(routes(app))
    assert ("GET", "/static/style.css") in checked and ("POST", "/instance/login-url") in checked
    for method, path in checked:
        for host in ("evil.example", f"evil.example:{PORT}", f"127.0.0.1:{PORT + 1}", f"localhost.evil:{PORT}", ""):
            response = page.open(path, method=method, headers={"Host": host})
            assert response.status_code == 403, (method, path, host)
    for host in (f"127.0.0.1:{PORT}", f"localhost:{PORT}"):
        with page.get("/static/style.css", headers={"Host": host}) as response:
            assert response.status_code == 200


def test_without_a_session_every_page_says_how_to_get_in(app, client):
    for method, path in routes(app):
        if path in ("/login", "/instance/login-url", "/instance/open") or path.startswith("/static/"):
            continue
        response = client.open(path, method=method)
        assert response.status_code == 403, (method, path)
    text = client.get("/").text            # this app has no tray (no OPEN_PAGE): `mailroom open` is the way in
    assert "Open Mailroom with a fresh login link" in text and "mailroom open" in text and "tray" not in text


def test_a_login_token_works_once_within_its_time(app, client):
    url = mint_login_url(app).removeprefix(BASE)
    first = client.get(url)
    assert first.status_code == 302 and first.headers["Location"] == "/"    # the token leaves the address bar
    assert client.get("/").status_code == 200
    client.delete_cookie(app.config["SESSION_COOKIE_NAME"], domain="127.0.0.1")
    assert client.get(url).status_code == 403                              # reused
    assert client.get("/").status_code == 403
    assert client.get("/login?t=" + url.split("=", 1)[1][:-1] + "x").status_code == 403   # bad
    assert client.get("/login").status_code == 403
    expired = mint_login_url(app, seconds=-1).removeprefix(BASE)
    assert client.get(expired).status_code == 403
    assert "login link cannot be used" in client.get(expired).text


def test_the_session_cookie_is_this_installs_own_httponly_and_strict(app, client, controller):
    response = client.get(mint_login_url(app).removeprefix(BASE))
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"mailroom-{controller.install_id}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert len(app.config["SECRET_KEY"]) == 32


def test_every_post_needs_the_csrf_token(app, page, controller):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    posts = [path for method, path in routes(app)
             if method == "POST" and path not in ("/instance/login-url", "/instance/open")]
    assert len(posts) >= 10
    for path in posts:
        response = page.post(path, data={"name": "Made by another site"})
        assert response.status_code == 400, path
        assert "The form had expired" in response.text
    assert controller.settings()["departments"] == []
    assert page.submit("/settings/departments/new", {"name": "Weddings"}).status_code == 302
    assert [d["name"] for d in controller.settings()["departments"]] == ["Weddings"]


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},           # another port of localhost is the same site
    {"Origin": "http://evil.example"},
    {"Origin": f"http://127.0.0.1:{PORT + 1}"},
    {"Origin": "null"},                         # without Sec-Fetch-Site nothing vouches for it
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
])
def test_cross_site_requests_are_refused_even_with_a_token(page, controller, headers):
    token = page.csrf()
    response = page.post("/settings/departments/new", data={"name": "Evil", "csrf_token": token}, headers=headers)
    assert response.status_code == 403
    assert page.get("/", headers=headers).status_code == 403
    assert controller.settings()["departments"] == []


def test_our_own_origin_and_the_user_are_let_through(page, controller):
    token = page.csrf()
    for i, headers in enumerate(({"Origin": BASE, "Sec-Fetch-Site": "same-origin"},
                                 {"Origin": f"http://localhost:{PORT}"}, {"Sec-Fetch-Site": "none"},
                                 {"Origin": "null", "Sec-Fetch-Site": "same-origin"})):
        response = page.post("/settings/departments/new", data={"name": f"D{i}", "csrf_token": token},
                             headers=headers)
        assert response.status_code == 302
    assert len(controller.settings()["departments"]) == 4


def test_no_get_changes_anything(app, page, controller, configure):
    configure()
    page.submit("/settings/templates/new", {"name": "T", "kind": "form_letter", "subject": "S", "body": "B"})
    before = (controller.settings(), controller.status())
    for method, path in routes(app):
        if method == "GET" and path not in ("/login",):
            page.get(path).close()
    for name in ("departments", "task_types", "templates"):
        for entry in before[0][name]:
            key = entry["name"]
            page.get(f"/settings/{name}/edit/{key}")
            page.get(f"/settings/{name}/delete/{key}")
    page.get("/mailboxes/edit/Studio")
    page.get("/mailboxes/delete/Studio")
    assert (controller.settings(), controller.status()) == before


def test_every_response_carries_the_security_headers(app, page, client):
    responses = [page.get("/"), page.get("/status.json"), page.get("/static/style.css"), page.get("/static/app.js"),
                 page.get("/no/such/page"), client.get("/login?t=bad"), page.post("/check"),
                 page.get("/", headers={"Host": "evil.example"}), page.get("/", headers={"Origin": "http://evil"})]
    for response in responses:
        response.close()
        csp = response.headers["Content-Security-Policy"]
        for part in ("default-src 'self'", "frame-ancestors 'none'", "form-action 'self'"):
            assert part in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_pages_hold_no_inline_script_or_style(page):
    for path in ("/", "/outgoing", "/mailboxes/new", "/settings/templates/new", "/company"):
        text = page.get(path).text
        assert "<script>" not in text and " style=" not in text and "<style" not in text
        assert not re.search(r"<[^>]+\son\w+=", text) and "javascript:" not in text


def test_a_failure_shows_no_traceback(page, controller, mailroom_home):
    controller.ctx.engine.dispose()
    (mailroom_home / "mailroom.db").unlink()          # the store is gone: every query fails
    response = page.get("/")
    assert response.status_code == 500
    assert "Traceback" not in response.text and "sqlite" not in response.text.lower()
    assert "log file" in response.text


def test_the_instance_channel_needs_the_key(app, client):
    assert (auth.LOGIN_URL_PATH, auth.OPEN_PATH, auth.KEY_HEADER) == \
        (instance.LOGIN_URL_PATH, instance.OPEN_PATH, instance.KEY_HEADER)
    for path in ("/instance/login-url", "/instance/open"):
        assert client.post(path).status_code == 403
        assert client.post(path, headers={"X-Mailroom-Key": INSTANCE_KEY[:-1] + "?"}).status_code == 403
    response = client.post("/instance/login-url", headers={"X-Mailroom-Key": INSTANCE_KEY})
    url = response.get_json()["url"]
    assert url.startswith(f"{BASE}/login?t=")
    assert client.get(url.removeprefix(BASE)).status_code == 302


def test_a_canary_password_saved_through_the_page_shows_nowhere(app, page, controller, configure, mailroom_home):
    configure()
    outgoing = dict(controller.settings()["outgoing"], port=str(controller.settings()["outgoing"]["port"]))
    data = {k: v for k, v in outgoing.items() if v is not None}
    response = page.submit("/outgoing", {**data, "password": CANARY})     # its test fails: held, never shown
    assert response.status_code == 200 and CANARY not in response.text
    assert page.submit("/outgoing", {**data, "action": "save_anyway"}).status_code == 302
    assert controller.has_password("outgoing")
    box = controller.settings()["mailboxes"][0]
    form = {k: ("y" if v is True else v) for k, v in box.items() if v not in (None, False, [])}
    page.submit("/mailboxes/edit/Studio", {**form, "password": CANARY, "action": "save_anyway"})
    pages = [page.get(path).text for path in ("/", "/status.json", "/outgoing", "/mailboxes", "/mailboxes/edit/Studio")]
    pages.append(page.submit("/outgoing", {**data, "action": "test"}).text)
    assert all(CANARY not in text for text in pages)
    for root, _dirs, files in os.walk(mailroom_home):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                assert CANARY.encode() not in fh.read(), name


def test_a_second_mailroom_hands_over_to_the_one_with_a_desktop(app, client):
    # Without a desktop (headless) the caller gets a login URL to open itself.
    answer = client.post("/instance/open", headers={"X-Mailroom-Key": INSTANCE_KEY}).get_json()
    assert answer["opened"] is False and answer["url"].startswith(f"{BASE}/login?t=")
    opened = []
    app.config["OPEN_PAGE"] = opened.append          # the tray's desktop: it opens the page itself
    answer = client.post("/instance/open", headers={"X-Mailroom-Key": INSTANCE_KEY}).get_json()
    assert answer == {"opened": True} and opened == [None]


def test_the_login_leads_to_its_next_path_and_only_to_a_local_one(app, client, controller, configure):
    box = configure()
    url = mint_login_url(app, next_path=f"/mailboxes/{box.id}")
    assert url.endswith(f"&next=/mailboxes/{box.id}")
    landed = client.get(url.removeprefix(BASE))
    assert landed.status_code == 302 and landed.headers["Location"] == f"/mailboxes/{box.id}"
    form = client.get(landed.headers["Location"])                    # the mailbox's number → its form
    assert form.status_code == 302 and form.headers["Location"] == "/mailboxes/edit?key=Studio"
    assert client.get("/mailboxes/999").status_code == 404
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
                "/x\r\nSet-Cookie: a=b", "mailboxes"):
        with pytest.raises(ValueError):
            mint_login_url(app, next_path=bad)
        token = mint_login_url(app).split("t=", 1)[1]                # a hand-made link: the dashboard
        response = client.get("/login", query_string={"t": token, "next": bad})
        assert response.status_code == 302 and response.headers["Location"] == "/", bad
