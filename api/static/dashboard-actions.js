// Timpora Map dashboard, follow-up actions (tindak lanjut): the open actions by agency and due
// day, overdue first, with a status change and a note for the roles that may (planners: their
// own agency's actions), and what each agency contributed over a period. Plain JS, same-origin
// requests with the sign-in's token (sessionStorage); every text goes in through textContent.
(function () {
  "use strict";

  var I18N = {
    id: {
      title: "Tindak lanjut", agency: "Instansi", all: "Semua", status: "Status",
      open_only: "Terbuka dan berjalan", any: "Semua status", due: "Tenggat",
      action: "Tindak lanjut", meeting: "Rapat", change: "Ubah", overdue: "lewat tenggat",
      overdue_n: " lewat tenggat", none: "Tidak ada tindak lanjut.", loading: "Memuat…",
      failed: "Gagal: ", saved: "Tersimpan: ", reason: "Alasan", note: "Catatan",
      addnote: "Tambah catatan", contributions: "Kontribusi instansi", from: "Dari",
      to: "Sampai", show: "Tampilkan", reports: "Laporan dibuat", alerts: "Peringatan ditangani",
      closed: "Tindak lanjut selesai", total: "Jumlah", more: "Muat lagi", history: "Riwayat",
      statuses: { open: "terbuka", in_progress: "berjalan", done: "selesai", dropped: "dibatalkan" },
      reasons: { completed: "terlaksana", superseded: "digantikan", not_feasible: "tidak dapat dilaksanakan",
                 not_needed: "tidak diperlukan lagi", duplicate: "duplikat", other: "lainnya" }
    },
    en: {
      title: "Follow-up actions", agency: "Agency", all: "All", status: "Status",
      open_only: "Open and in progress", any: "Any status", due: "Due",
      action: "Action", meeting: "Meeting", change: "Change", overdue: "overdue",
      overdue_n: " overdue", none: "No follow-up actions.", loading: "Loading…",
      failed: "Failed: ", saved: "Saved: ", reason: "Reason", note: "Note",
      addnote: "Add note", contributions: "What each agency contributed", from: "From",
      to: "To", show: "Show", reports: "Reports made", alerts: "Alerts handled",
      closed: "Actions closed", total: "Total", more: "Load more", history: "History",
      statuses: { open: "open", in_progress: "in progress", done: "done", dropped: "dropped" },
      reasons: { completed: "completed", superseded: "superseded", not_feasible: "not feasible",
                 not_needed: "no longer needed", duplicate: "duplicate", other: "other" }
    }
  };
  var STATUSES = ["open", "in_progress", "done", "dropped"];
  var CLOSED = ["done", "dropped"];
  var REASONS = ["completed", "superseded", "not_feasible", "not_needed", "duplicate", "other"];
  var PAGE = 50;

  var $ = function (id) { return document.getElementById(id); };
  var meta = null;  // the meta's "followup": what this role may do, and its agency
  var shown = [];   // the actions on screen, in list order
  var next = null;  // the next page's URL

  function lang() { return $("f-lang").value === "en" ? "en" : "id"; }
  function tr(key) { return I18N[lang()][key] || I18N.id[key] || key; }
  function statusText(s) { return tr("statuses")[s] || s; }
  function reasonText(r) { return tr("reasons")[r] || r; }

  // A JSON request with the token, and text-only elements (dashboard-common.js).
  var api = window.TimporaDashboard.requestJson;
  var el = window.TimporaDashboard.el;

  function option(select, value, text) {
    var o = el("option", text);
    o.value = value;
    select.appendChild(o);
  }

  function applyLanguage() {
    document.querySelectorAll("[data-fu-i18n]").forEach(function (e) {
      e.textContent = tr(e.getAttribute("data-fu-i18n"));
    });
    var status = $("fu-status"), current = status.value;
    status.textContent = "";
    option(status, "", tr("open_only"));
    STATUSES.forEach(function (s) { option(status, s, statusText(s)); });
    option(status, "any", tr("any"));
    status.value = current;
    var first = $("fu-agency").querySelector("option");
    if (first) { first.textContent = tr("all"); }
    $("fu-state").textContent = "";  // a message of the other language
    if (meta) { render(); renderContributions(); }
  }

  // May the caller change this action? Managers any; planners their own agency's.
  function mayChange(action) {
    if (!meta) { return false; }
    return meta.manage || (meta.update && meta.agency_id === action.agency_id);
  }

  function summary() {
    var overdue = shown.filter(function (a) { return a.overdue; }).length;
    $("fu-count").textContent = overdue ? String(overdue) + tr("overdue_n") : "";
    $("fu-count").hidden = overdue === 0;
  }

  function changeForm(action) {
    var form = el("form", null, "fu-change");
    var status = el("select");
    status.setAttribute("aria-label", tr("status"));
    STATUSES.forEach(function (s) {
      if (s !== action.status) { option(status, s, statusText(s)); }
    });
    var reason = el("select");
    reason.setAttribute("aria-label", tr("reason"));
    REASONS.forEach(function (r) { option(reason, r, reasonText(r)); });
    var note = el("input");
    note.type = "text"; note.maxLength = 2000; note.placeholder = tr("note");
    note.setAttribute("aria-label", tr("note"));
    var save = el("button", tr("change")); save.type = "submit";
    var add = el("button", tr("addnote")); add.type = "button";
    function syncReason() { reason.hidden = CLOSED.indexOf(status.value) < 0; }
    status.addEventListener("change", syncReason);
    syncReason();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = { status: status.value };
      if (!reason.hidden) { body.reason = reason.value; }
      if (note.value.trim()) { body.note = note.value.trim(); }
      send("/api/v1/actions/" + action.id + "/status", body);
    });
    add.addEventListener("click", function () {
      if (!note.value.trim()) { note.focus(); return; }
      send("/api/v1/actions/" + action.id + "/notes", { body: note.value.trim() });
    });
    [status, reason, note, save, add].forEach(function (e) { form.appendChild(e); });
    return form;
  }

  function send(path, body) {
    $("fu-state").textContent = tr("loading");
    api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (updated) {
      $("fu-state").textContent = tr("saved") + updated.title + " (" + statusText(updated.status) + ")";
      return loadActions();
    }).catch(function (err) { $("fu-state").textContent = tr("failed") + err.message; });
  }

  var wib = window.TimporaDashboard.wib;  // a WIB time as printed (dashboard-common.js)

  function noteText(n) {
    var text = wib(n.at) + " · " + n.author + (n.agency ? " (" + n.agency + ")" : "");
    if (n.status_to) {
      text += " · " + statusText(n.status_from) + " → " + statusText(n.status_to);
      if (n.reason) { text += " (" + reasonText(n.reason) + ")"; }
    }
    return n.body ? text + ": " + n.body : text;
  }

  // An action's dated notes, under its title (roles with personal data: the notes are free text).
  function toggleHistory(action, cell, button) {
    var open = cell.querySelector("ul.history");
    if (open) {
      open.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    api("/api/v1/actions/" + action.id).then(function (full) {
      var list = el("ul", null, "history");
      (full.notes || []).forEach(function (n) { list.appendChild(el("li", noteText(n))); });
      cell.appendChild(list);
      button.setAttribute("aria-expanded", "true");
    }).catch(function (err) { $("fu-state").textContent = tr("failed") + err.message; });
  }

  function row(action) {
    var tr_ = el("tr", null, action.overdue ? "overdue" : action.status);
    tr_.setAttribute("data-action", String(action.id));
    var due = el("td", action.due_on, "due");
    if (action.overdue) { due.appendChild(el("span", tr("overdue"), "flag")); }
    tr_.appendChild(due);
    tr_.appendChild(el("td", action.agency));
    var title = el("td", action.title);
    if (action.meeting_title) {
      title.appendChild(el("div", tr("meeting") + ": " + action.meeting_title, "meeting"));
    }
    if (action.note_count) {
      var toggle = el("button", tr("history") + " (" + action.note_count + ")", "history-toggle");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.addEventListener("click", function () { toggleHistory(action, title, toggle); });
      title.appendChild(toggle);
    }
    tr_.appendChild(title);
    var status = statusText(action.status);
    if (action.close_reason) { status += " (" + reasonText(action.close_reason) + ")"; }
    tr_.appendChild(el("td", status, "status"));
    var change = el("td");
    if (mayChange(action)) { change.appendChild(changeForm(action)); }
    tr_.appendChild(change);
    return tr_;
  }

  function render() {
    var body = $("fu-list").querySelector("tbody");
    body.textContent = "";
    shown.forEach(function (a) { body.appendChild(row(a)); });
    $("fu-list").hidden = shown.length === 0;
    $("fu-empty").hidden = shown.length !== 0;
    $("fu-more").hidden = !next;
    $("fu-list").setAttribute("data-count", String(shown.length));
    summary();
  }

  function listUrl() {
    var p = new URLSearchParams();
    if ($("fu-agency").value) { p.set("agency", $("fu-agency").value); }
    if ($("fu-status").value) { p.set("status", $("fu-status").value); }
    p.set("limit", String(PAGE));
    return "/api/v1/actions?" + p.toString();
  }

  function nextLink(body) {
    var link = (body.links || []).filter(function (l) { return l.rel === "next"; })[0];
    if (!link) { return null; }
    var u = new URL(link.href, window.location.href);
    return u.pathname + u.search;  // same origin, whatever host the API saw
  }

  function loadActions(more) {
    var url = more && next ? next : listUrl();
    return api(url).then(function (body) {
      shown = more ? shown.concat(body.actions) : body.actions;
      next = nextLink(body);
      render();
    }).catch(function (err) { $("fu-state").textContent = tr("failed") + err.message; });
  }

  function isoDay(d) { return d.toISOString().slice(0, 10); }

  var contributed = null;  // the last contributions answer, redrawn on a language change

  function renderContributions() {
    var tbody = $("fu-contrib").querySelector("tbody");
    tbody.textContent = "";
    if (!contributed) { return; }
    contributed.agencies.forEach(function (a) {
      var r = el("tr");
      r.setAttribute("data-agency", a.agency);
      [a.agency, a.reports, a.alerts_handled, a.actions_closed].forEach(function (v) {
        r.appendChild(el("td", v));
      });
      tbody.appendChild(r);
    });
    var totals = contributed.totals;
    var total = el("tr", null, "total");
    [tr("total"), totals.reports, totals.alerts_handled, totals.actions_closed]
      .forEach(function (v) { total.appendChild(el("td", v)); });
    tbody.appendChild(total);
  }

  function loadContributions() {
    var p = new URLSearchParams();
    if ($("fu-from").value) { p.set("from", $("fu-from").value); }
    if ($("fu-to").value) { p.set("to", $("fu-to").value); }
    return api("/api/v1/agencies/contributions?" + p.toString()).then(function (body) {
      contributed = body;
      renderContributions();
      $("fu-from").value = body.from; $("fu-to").value = body.to;
    }).catch(function (err) { $("fu-state").textContent = tr("failed") + err.message; });
  }

  function loadAgencies() {
    return api("/api/v1/agencies").then(function (body) {
      var select = $("fu-agency"), current = select.value;
      select.textContent = "";
      option(select, "", tr("all"));
      (body.agencies || []).forEach(function (a) {
        if (a.active !== false) { option(select, String(a.id), a.short_name); }
      });
      select.value = current;
    }).catch(function () { return null; });
  }

  // The panel starts from the meta the dashboard fetched at sign-in (dashboard.js's event).
  function start(m) {
    meta = m.followup || null;
    if (!meta) { $("followup").hidden = true; return null; }
    $("followup").hidden = false;
    var today = new Date();
    if (!$("fu-to").value) { $("fu-to").value = isoDay(today); }
    if (!$("fu-from").value) {
      $("fu-from").value = isoDay(new Date(today.getTime() - 29 * 86400000));
    }
    applyLanguage();
    return Promise.all([loadAgencies(), loadActions(), loadContributions()])
      .catch(function () { $("followup").hidden = true; });
  }

  // The panel follows the dashboard's sign-in: shown with the app, emptied on sign-out.
  document.addEventListener("timpora:signedin", function (ev) { start(ev.detail); });
  document.addEventListener("timpora:signedout", function () {
    $("followup").hidden = true; meta = null; shown = []; next = null; contributed = null;
    // The next user starts from a closed panel and no filter of the previous one.
    $("fu-panel").open = false; $("fu-status").value = ""; $("fu-agency").value = "";
    $("fu-state").textContent = "";
  });

  $("fu-agency").addEventListener("change", function () { loadActions(); });
  $("fu-status").addEventListener("change", function () { loadActions(); });
  $("fu-more").addEventListener("click", function () { loadActions(true); });
  $("fu-period").addEventListener("submit", function (ev) {
    ev.preventDefault();
    loadContributions();
  });
  $("f-lang").addEventListener("change", applyLanguage);
})();
