// Mailroom's own small script. Every form works without it; it only adds a live
// dashboard, provider presets filled in as they are chosen, "Testing…" while a
// connection test runs, user and status lists narrowed to the chosen department or
// task type, and the template's live preview.
// No inline code (the page's Content-Security-Policy forbids it) and nothing from elsewhere.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var token = csrf ? csrf.getAttribute("content") : "";

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    });
  }

  // --- the dashboard: poll the status and update the rows in place -----------------------
  var live = document.querySelector("[data-live-status]");
  if (live) {
    var url = live.getAttribute("data-live-status");
    var ack = live.getAttribute("data-acknowledge");
    var words = { error: "Something needs you", checking: "Checking mail", paused: "Paused", idle: "All quiet" };
    var acknowledge = function () { if (document.visibilityState === "visible") { post(ack); } };
    var setText = function (root, name, text) {
      var el = root.querySelector('[data-bind="' + name + '"]');
      if (!el) { return; }
      el.textContent = text;
      if (el.tagName === "P") { el.hidden = !text; }
      var holder = el.closest("[data-show]");
      if (holder) { holder.hidden = !text; }
    };
    var apply = function (s) {
      var rows = document.querySelectorAll("tr[data-mailbox]");
      var ids = Array.prototype.map.call(rows, function (r) { return r.getAttribute("data-mailbox"); }).join();
      var now = s.mailboxes.map(function (b) { return String(b.id); }).join();
      if (ids !== now || live.getAttribute("data-paused") !== String(s.paused)) {
        window.location.reload();
        return;
      }
      s.mailboxes.forEach(function (b) {
        var row = document.querySelector('tr[data-mailbox="' + b.id + '"]');
        if (b.error_field !== row.getAttribute("data-error-field")) { window.location.reload(); return; }
        row.className = "state-" + b.state;
        ["state_text", "last_run", "counts", "next_run", "error"].forEach(function (k) { setText(row, k, b[k]); });
      });
      ["outbox_pending", "outbox_sent", "quarantined", "outbox_problems", "outbox_error"].forEach(function (k) {
        setText(document, k, String(s[k]));
      });
      var overall = document.querySelector('[data-bind="overall_text"]');
      if (overall) { overall.textContent = words[s.overall]; overall.className = "overall overall-" + s.overall; }
      if (s.unread) { acknowledge(); }
    };
    var poll = function () {
      if (document.visibilityState !== "visible") { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) { if (s) { apply(s); } })
        .catch(function () { /* Mailroom stopped: try again on the next tick */ });
    };
    acknowledge();
    document.addEventListener("visibilitychange", function () { acknowledge(); poll(); });
    window.setInterval(poll, 2000);
  }

  // --- a warning shown while a box is unticked (Leave email on server) --------------------
  document.querySelectorAll("[data-unchecked-warning]").forEach(function (warning) {
    var box = document.getElementById(warning.getAttribute("data-unchecked-warning"));
    if (!box) { return; }
    var show = function () { warning.hidden = box.checked; };
    box.addEventListener("change", show);
    show();
  });

  // --- provider presets: fill server, port and security as one is chosen ----------------
  document.querySelectorAll("[data-preset-select]").forEach(function (select) {
    var form = select.form;
    var notes = function () {
      form.querySelectorAll("[data-preset-note]").forEach(function (n) {
        n.hidden = n.getAttribute("data-preset-note") !== select.value;
      });
    };
    select.addEventListener("change", function () {
      var o = select.options[select.selectedIndex];
      if (o.getAttribute("data-host")) {
        form.elements.host.value = o.getAttribute("data-host");
        form.elements.port.value = o.getAttribute("data-port");
        form.elements.security.value = o.getAttribute("data-security");
      }
      notes();
    });
  });

  // --- a connection test takes a while: say so next to the button, and take no second click ---
  document.querySelectorAll("form[data-busy-form]").forEach(function (form) {
    var status = form.querySelector("[data-busy-status]");
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
      if (!button || !button.hasAttribute("data-busy") || !status) { return; }
      form.setAttribute("aria-busy", "true");
      status.textContent = button.getAttribute("data-busy");
      var row = button.closest(".buttons");
      if (row) { row.after(status); }
      status.hidden = false;
      status.scrollIntoView({ block: "nearest" });
    });
    // Back to this page from the browser's history: the test is over.
    window.addEventListener("pageshow", function () {
      form.removeAttribute("aria-busy");
      if (status) { status.hidden = true; }
    });
  });

  // --- Assigned to User follows the department; Task Status follows the task type -------
  [["department", "user"], ["task_type", "task_status"]].forEach(function (pair) {
    var parents = document.querySelectorAll('select[name="' + pair[0] + '"]');
    parents.forEach(function (parent) {
      var child = parent.form && parent.form.elements[pair[1]];
      if (!child || child.tagName !== "SELECT") { return; }
      var narrow = function () {
        Array.prototype.forEach.call(child.options, function (o) {
          var owner = o.getAttribute("data-parent");
          var fits = !o.value || !parent.value || !owner || owner === parent.value;
          o.hidden = !fits;
          o.disabled = !fits;
        });
        if (child.selectedOptions.length && child.selectedOptions[0].disabled) { child.value = ""; }
      };
      parent.addEventListener("change", narrow);
      narrow();
    });
  });

  // --- the template editor's live preview ------------------------------------------------
  var editor = document.querySelector("[data-template-preview]");
  if (editor) {
    var previewUrl = editor.getAttribute("data-template-preview");
    var timer = null;
    var render = function () {
      post(previewUrl, { kind: editor.elements.kind.value, subject: editor.elements.subject.value,
                         body: editor.elements.body.value })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { return; }
          var box = document.getElementById("preview-problems");
          var list = box.querySelector("ul");
          list.textContent = "";
          p.problems.forEach(function (text) {
            var li = document.createElement("li");
            li.textContent = text;
            list.appendChild(li);
          });
          box.hidden = p.problems.length === 0;
          document.getElementById("preview-subject").textContent = p.subject;
          var pre = document.getElementById("preview-text");
          var frame = document.getElementById("preview-html");
          pre.textContent = p.text;
          pre.hidden = !!p.html;
          frame.hidden = !p.html;
          frame.srcdoc = p.html || "";
        });
    };
    editor.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(render, 350);
    });
  }
}());
