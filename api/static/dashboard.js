// Timpora Map dashboard: plain JS, same-origin requests only, the token kept in sessionStorage.
(function () {
  "use strict";

  var TOKEN_KEY = "timpora.token";
  // The map frame keeps this page's Content-Security-Policy, which runs only scripts carrying
  // this page's nonce: each map is requested with it (api/routers/maps.py).
  var NONCE = (document.currentScript && document.currentScript.nonce) || "";
  var I18N = {
    id: {
      signin: "Masuk", signout: "Keluar", token: "Token akses", view: "Peta", layer: "Lapisan",
      kind: "Jenis", kecamatan: "Kecamatan", start: "Mulai", end: "Sampai", lang: "Bahasa",
      apply: "Terapkan", alerts: "Peringatan", all: "Semua", loading: "Memuat peta…",
      loaded: "Peta dimuat", failed: "Gagal memuat peta", badtoken: "Token tidak valid atau dicabut",
      noalerts: "Tidak ada peringatan baru.", unavailable: "Layanan peringatan belum tersedia di server ini.",
      live: "Tersambung: peringatan baru muncul otomatis.", offline: "Aliran peringatan terputus; mencoba lagi…",
      ack: "Tandai diterima", acked: "Diterima", severity: "Tingkat",
      queue: "Antrean peringatan", opentotal: "Jumlah peringatan terbuka (sesuai filter)",
      rule: "Aturan", status: "Status", assignee: "Petugas", allrules: "Semua aturan",
      allseverities: "Semua tingkat", anyone: "Semua", mine: "Saya", unassigned: "Belum ditugaskan",
      emptyqueue: "Antrean kosong untuk filter ini.", more: "Muat lagi", clear: "Batal pilih",
      selected: "dipilih", current: "Peringatan terpilih", assign: "Tugaskan", assignto: "Tugaskan ke…",
      resolve: "Selesaikan", reasonpick: "Alasan penyelesaian…", addnote: "Tambah catatan",
      notehint: "Catatan (opsional untuk tindakan lain)", needreason: "Pilih alasan penyelesaian.",
      needuser: "Pilih petugas.", neednote: "Tulis catatan.", saved: "Tersimpan.",
      history: "Riwayat", nohistory: "Belum ada catatan.", times: "kali", lastseen: "terakhir",
      agencyonly: "Hanya {a}", sharedwith: "Dibagikan kepada {a}",
      firstseen: "pertama", assigned: "ditugaskan ke", bysev: "Tingkat", total: "Total",
      statuses: { open: "Terbuka", "new": "Baru", acknowledged: "Diterima", resolved: "Selesai",
                  lapsed: "Kedaluwarsa (sepi)" },
      actions: { note: "catatan", assign: "ditugaskan", unassign: "tugas dilepas",
                 acknowledge: "diterima", resolve: "diselesaikan", reopen: "dibuka lagi",
                 lapse: "kedaluwarsa" },
      tokenhint: "Token dibuat dengan: timpora users add NAMA --role PERAN",
      views: { overview: "Ikhtisar", heatmap: "Peta panas", hexbins: "Heksagon", timeline: "Linimasa",
               hotspots: "Titik rawan", patrol: "Rencana patroli", risk: "Risiko tempat kerja" },
      layers: { incidents: "Kejadian", sightings: "Laporan keberadaan" }
    },
    en: {
      signin: "Sign in", signout: "Sign out", token: "Access token", view: "Map", layer: "Layer",
      kind: "Kind", kecamatan: "District", start: "From", end: "To", lang: "Language",
      apply: "Apply", alerts: "Alerts", all: "All", loading: "Loading map…",
      loaded: "Map loaded", failed: "Could not load the map", badtoken: "Invalid or revoked token",
      noalerts: "No new alerts.", unavailable: "The alert service is not available on this server.",
      live: "Connected: new alerts appear automatically.", offline: "Alert stream interrupted; retrying…",
      ack: "Acknowledge", acked: "Acknowledged", severity: "Severity",
      queue: "Alert queue", opentotal: "Open alerts (for these filters)",
      rule: "Rule", status: "Status", assignee: "Assignee", allrules: "All rules",
      allseverities: "All severities", anyone: "Anyone", mine: "Me", unassigned: "Unassigned",
      emptyqueue: "The queue is empty for these filters.", more: "Load more", clear: "Clear selection",
      selected: "selected", current: "Alert shown", assign: "Assign", assignto: "Assign to…",
      resolve: "Resolve", reasonpick: "Reason for resolving…", addnote: "Add note",
      notehint: "Note (optional with the other actions)", needreason: "Choose a reason to resolve.",
      needuser: "Choose a user.", neednote: "Write a note.", saved: "Saved.",
      history: "History", nohistory: "No notes yet.", times: "times", lastseen: "last",
      agencyonly: "{a} only", sharedwith: "Shared with {a}",
      firstseen: "first", assigned: "assigned to", bysev: "Severity", total: "Total",
      statuses: { open: "Open", "new": "New", acknowledged: "Acknowledged", resolved: "Resolved",
                  lapsed: "Lapsed (quiet)" },
      actions: { note: "note", assign: "assigned", unassign: "unassigned",
                 acknowledge: "acknowledged", resolve: "resolved", reopen: "reopened",
                 lapse: "lapsed" },
      tokenhint: "Create a token with: timpora users add NAME --role ROLE",
      views: { overview: "Overview", heatmap: "Heatmap", hexbins: "Hexagons", timeline: "Timeline",
               hotspots: "Hotspots", patrol: "Patrol plan", risk: "Workplace risk" },
      layers: { incidents: "Incidents", sightings: "Sightings" }
    }
  };

  var state = { meta: null, lang: "id", source: null, queue: null, features: [], next: null,
                picked: {}, focus: null, detail: null, reload: null };
  var $ = function (id) { return document.getElementById(id); };

  function tr(key) { return I18N[state.lang][key] || I18N.id[key] || key; }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ Authorization: "Bearer " + token() }, options.headers || {});
    return fetch(path, options);
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = tr(el.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-title]").forEach(function (el) {
      el.setAttribute("title", tr(el.getAttribute("data-i18n-title")));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      el.setAttribute("placeholder", tr(el.getAttribute("data-i18n-placeholder")));
    });
    if (state.meta) {
      $("action-state").textContent = "";
      fillSelects(); fillQueueSelects(); renderQueue(); renderDetail();
    }
  }

  function option(value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label;
    return o;
  }

  function refill(select, items, keepFirst) {
    var current = select.value;
    while (select.options.length > (keepFirst ? 1 : 0)) { select.remove(select.options.length - 1); }
    if (keepFirst) { select.options[0].textContent = tr("all"); }
    items.forEach(function (it) { select.appendChild(option(it[0], it[1])); });
    if (Array.prototype.some.call(select.options, function (o) { return o.value === current; })) {
      select.value = current;
    }
  }

  function fillSelects() {
    var m = state.meta;
    refill($("f-view"), m.views.map(function (v) { return [v, tr("views")[v] || v]; }), false);
    if (!$("f-view").value) { $("f-view").value = m.views.indexOf("overview") >= 0 ? "overview" : m.views[0]; }
    refill($("f-layer"), m.layers.map(function (l) { return [l, tr("layers")[l] || l]; }), false);
    var kinds = m.kinds[$("f-layer").value] || [];
    refill($("f-kind"), kinds.map(function (k) { return [k.value, k[state.lang] || k.value]; }), true);
    refill($("f-kecamatan"), m.kecamatan.map(function (k) { return [k.code, k.name]; }), true);
  }

  function query() {
    var p = new URLSearchParams();
    p.set("layer", $("f-layer").value);
    p.set("lang", state.lang);
    if ($("f-kind").value) { p.set("kind", $("f-kind").value); }
    if ($("f-kecamatan").value) { p.set("kecamatan", $("f-kecamatan").value); }
    if ($("f-start").value) { p.set("start", $("f-start").value); }
    if ($("f-end").value) { p.set("end", $("f-end").value); }
    return p.toString();
  }

  // Each map request takes a ticket; an answer to a request since superseded (a slow view the
  // user already left) is dropped, so it can neither replace the map asked for last nor
  // overwrite its status.
  var mapTicket = 0;

  // The frame's data-view names the map it shows once that map's page has loaded, never while
  // a request or the frame's own loading is under way, and data-query the filters it was drawn
  // with: whoever writes a page into the frame (here and the patrol panel) removes data-view and
  // sets data-pending-view (and data-pending-query) with srcdoc, and the frame's load event moves
  // them over. A page still loading can so never pass for the map asked for, to a reader, to the
  // snapshot buttons (which print the map shown, not the choices not yet applied) or to a test.
  $("map").addEventListener("load", function () {
    var pending = $("map").getAttribute("data-pending-view");
    if (pending && $("map").srcdoc) {
      $("map").setAttribute("data-view", pending);
      $("map").setAttribute("data-query", $("map").getAttribute("data-pending-query") || "");
      $("map").removeAttribute("data-pending-view");
      $("map").removeAttribute("data-pending-query");
    }
  });

  function loadMap() {
    var view = $("f-view").value;
    var ticket = ++mapTicket;
    var asked = query();
    $("map").removeAttribute("data-view");
    $("map").removeAttribute("data-query");
    $("map-status").textContent = tr("loading");
    // The page is fetched with the Authorization header and shown through srcdoc, so the token
    // never appears in a URL (server logs, history); the frame is sandboxed (an origin of its
    // own), so nothing in the map can read the token from this page's sessionStorage.
    return api("/maps/" + encodeURIComponent(view) + "?" + asked,
               { headers: NONCE ? { "X-Script-Nonce": NONCE } : {} })
      .then(function (r) {
        if (!r.ok) {
          return r.json().then(function (body) { throw new Error(body.detail || r.status); });
        }
        return r.text();
      })
      .then(function (html) {
        if (ticket !== mapTicket) { return; }
        $("map").setAttribute("data-pending-view", view);
        $("map").setAttribute("data-pending-query", asked);
        $("map").srcdoc = html;
        $("map-status").textContent = tr("loaded");
      })
      .catch(function (err) {
        if (ticket !== mapTicket) { return; }
        $("map-status").textContent = tr("failed") + ": " + err.message;
      });
  }

  // --- the alert queue -----------------------------------------------------------------------
  // Every string reaches the page as text (textContent, option labels, attributes set one by
  // one): names of places and users and the words of notes are never parsed as markup.

  // "2026-10-18T15:59:28+07:00" → "2026-10-18 15:59 WIB" (the API sends WIB times).
  function wib(iso) {
    if (!iso || iso.slice(-6) !== "+07:00") { return iso || ""; }
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " WIB";
  }

  function labelOf(table, key) {
    var label = (table && table[key]) || {};
    return label[state.lang] || label.id || key;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function canAct() { return !!(state.meta.can_ack && state.meta.alerts.actions); }

  function fillQueueSelects() {
    var m = state.meta;
    refill($("q-rule"), Object.keys(m.rules).map(function (k) { return [k, labelOf(m.rules, k)]; }), true);
    $("q-rule").options[0].textContent = tr("allrules");
    refill($("q-severity"), ["5", "4", "3", "2", "1"].map(function (v) {
      return [v, tr("severity") + " " + v];
    }), true);
    $("q-severity").options[0].textContent = tr("allseverities");
    refill($("q-status"), ["open", "new", "acknowledged", "resolved", "lapsed"].map(function (v) {
      return [v, tr("statuses")[v]];
    }), false);
    if (!$("q-status").value) { $("q-status").value = "open"; }
    var people = [["none", tr("unassigned")], [m.user, tr("mine") + " (" + m.user + ")"]];
    m.assignees.forEach(function (u) { if (u !== m.user) { people.push([u, u]); } });
    refill($("q-assignee"), people, true);
    $("q-assignee").options[0].textContent = tr("anyone");
    $("q-assignee-label").hidden = !m.personal_data;
    refill($("a-user"), m.assignees.map(function (u) { return [u, u]; }), true);
    $("a-user").options[0].textContent = tr("assignto");
    refill($("a-reason"), m.resolve_reasons.map(function (k) {
      return [k, labelOf(m.reasons, k)];
    }), true);
    $("a-reason").options[0].textContent = tr("reasonpick");
  }

  // The queue follows the map's kecamatan and dates, and its own rule/severity/status/assignee.
  function queueQuery(after) {
    var p = new URLSearchParams();
    if ($("f-kecamatan").value) { p.set("kecamatan", $("f-kecamatan").value); }
    if ($("f-start").value) { p.set("start", $("f-start").value); }
    if ($("f-end").value) { p.set("end", $("f-end").value); }
    [["rule", "q-rule"], ["severity", "q-severity"], ["status", "q-status"],
     ["assignee", "q-assignee"]].forEach(function (pair) {
      if ($(pair[1]).value && !$(pair[1]).hidden) { p.set(pair[0], $(pair[1]).value); }
    });
    if (!state.meta.personal_data) { p.delete("assignee"); }
    p.set("limit", "50");
    if (after) { p.set("after", after); }
    return p.toString();
  }

  function loadQueue(more) {
    var caps = state.meta.alerts;
    if (!caps.queue) {
      $("alert-state").textContent = tr("unavailable");
      $("alerts").setAttribute("data-state", "unavailable");
      return Promise.resolve();
    }
    var after = more ? state.next : null;
    return api("/api/v1/alerts/queue?" + queueQuery(after)).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.detail || String(r.status)); }
        return body;
      });
    }).then(function (fc) {
      state.queue = fc;
      state.features = more ? state.features.concat(fc.features) : fc.features;
      var next = (fc.links || []).filter(function (l) { return l.rel === "next"; })[0];
      state.next = next ? new URL(next.href, location.href).searchParams.get("after") : null;
      if (!more) {
        var shown = {};
        state.features.forEach(function (f) { shown[f.id] = true; });
        Object.keys(state.picked).forEach(function (id) { if (!shown[id]) { delete state.picked[id]; } });
      }
      renderQueue();
      $("alerts").setAttribute("data-state", "ready");
    }).catch(function (err) {
      $("alert-state").textContent = tr("unavailable") + " " + err.message;
      $("alerts").setAttribute("data-state", "unavailable");
    });
  }

  function renderTotals() {
    var box = $("alert-totals");
    box.textContent = "";
    var totals = state.queue.totals;
    ["5", "4", "3", "2", "1"].forEach(function (v) {
      if (totals.severity[v]) {
        var chip = el("span", "sev", tr("bysev") + " " + v + ": " + totals.severity[v]);
        chip.setAttribute("data-severity", v);
        box.appendChild(chip);
      }
    });
    Object.keys(totals.rule).sort(function (a, b) { return totals.rule[b] - totals.rule[a]; })
      .forEach(function (k) {
        var chip = el("span", "rule", labelOf(state.meta.rules, k) + ": " + totals.rule[k]);
        chip.setAttribute("data-rule", k);
        box.appendChild(chip);
      });
  }

  function renderQueue() {
    if (!state.queue) { return; }
    var totals = state.queue.totals;
    // The badge is the number of open alerts for these filters, not the length of the page.
    var open = (totals.status["new"] || 0) + (totals.status.acknowledged || 0);
    $("alert-count").textContent = String(open);
    renderTotals();
    var list = $("alert-list");
    list.textContent = "";
    state.features.forEach(function (f) { list.appendChild(renderItem(f)); });
    $("alert-more").hidden = !state.next;
    $("alert-state").textContent = state.features.length
      ? state.features.length + " / " + state.queue.numberMatched + (state.source ? " · " + tr("live") : "")
      : tr("emptyqueue");
    renderActions();
  }

  function renderItem(f) {
    var p = f.properties;
    var li = el("li", "sev-" + p.severity + " " + p.status);
    li.setAttribute("data-alert-id", String(p.id));
    if (state.focus === p.id) { li.classList.add("focused"); }
    if (canAct()) {
      var box = document.createElement("input");
      box.type = "checkbox"; box.className = "pick";
      box.setAttribute("aria-label", "#" + p.id);
      box.checked = !!state.picked[p.id];
      box.addEventListener("click", function (ev) { ev.stopPropagation(); });
      box.addEventListener("change", function () {
        if (box.checked) { state.picked[p.id] = true; } else { delete state.picked[p.id]; }
        renderActions();
      });
      li.appendChild(box);
    }
    var body = el("div", "body");
    body.appendChild(el("div", "rule", "#" + p.id + " " + labelOf(state.meta.rules, p.rule) +
      " · " + tr("severity") + " " + p.severity));
    body.appendChild(el("div", "where", [p.desa, p.kecamatan].filter(Boolean).join(", ")));
    var seen = tr("lastseen") + " " + wib(p.last_seen_at);
    if (p.occurrences > 1) {
      seen += " · " + p.occurrences + " " + tr("times") + " · " + tr("firstseen") + " " + wib(p.first_seen_at);
    }
    body.appendChild(el("div", "when", seen));
    var who = tr("statuses")[p.status] || p.status;
    if (p.assigned_to) { who += " · " + tr("assigned") + " " + p.assigned_to; }
    body.appendChild(el("div", "who", who));
    var kept = sharingText(p.sharing);
    if (kept) { body.appendChild(el("div", "kept", kept)); }
    li.appendChild(body);
    if (state.meta.alerts.detail) {
      li.setAttribute("tabindex", "0");
      li.addEventListener("click", function () { focusAlert(p.id); });
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { focusAlert(p.id); } });
    }
    return li;
  }

  // An alert about a record not shared with the whole Timpora says with whom it is (textContent).
  function sharingText(sharing) {
    if (!sharing || sharing.sharing === "timpora") { return ""; }
    var reached = sharing.sharing === "agency" ? [sharing.agency]
      : [sharing.agency].concat(sharing.shared_with || []);
    var names = reached.filter(Boolean).join(", ");
    // A function, so a "$" in a name is not read as a replacement pattern.
    return tr(sharing.sharing === "agency" ? "agencyonly" : "sharedwith")
      .replace("{a}", function () { return names; });
  }

  function targets() {
    var ids = Object.keys(state.picked).map(Number);
    if (!ids.length && state.focus !== null) { ids = [state.focus]; }
    return ids;
  }

  function renderActions() {
    var form = $("alert-actions");
    var ids = targets();
    form.hidden = !canAct() || !ids.length;
    var picked = Object.keys(state.picked).length;
    $("sel-count").textContent = picked ? picked + " " + tr("selected") : tr("current") + " #" + ids[0];
    $("a-clear").hidden = !picked;
  }

  // Clicking an alert shows its record and flies the map to it: the map frame is sandboxed
  // (an origin of its own), so the alert goes to it as a message (maps/focus.py).
  function focusAlert(id) {
    state.focus = id;
    document.querySelectorAll("#alert-list li.focused").forEach(function (li) { li.classList.remove("focused"); });
    var li = document.querySelector('#alert-list li[data-alert-id="' + Number(id) + '"]');
    if (li) { li.classList.add("focused"); }
    renderActions();
    return api("/api/v1/alerts/" + encodeURIComponent(id)).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (feature) {
      if (state.focus !== id) { return; }
      state.detail = feature;
      renderDetail();
      postFocus();
    }).catch(function (err) { $("action-state").textContent = err.message; });
  }

  function postFocus() {
    var f = state.detail;
    var frame = $("map").contentWindow;
    if (!f || !frame) { return; }
    var places = (f.properties.subject_places || []).map(function (s) {
      return { kind: s.kind, label: s.label, geometry: s.geometry };
    });
    var point = f.geometry && f.geometry.type === "Point" ? f.geometry.coordinates : null;
    // The frame's origin is opaque (sandboxed without allow-same-origin): "*" is the only
    // target that reaches it; it takes messages from this window only.
    frame.postMessage({ type: "timpora:focus", id: f.id, point: point, places: places }, "*");
  }

  window.addEventListener("message", function (ev) {
    if (ev.source !== $("map").contentWindow || !ev.data || ev.data.type !== "timpora:focused") { return; }
    $("map").setAttribute("data-focus", String(ev.data.id));
  });

  function renderDetail() {
    var f = state.detail;
    $("alert-detail").hidden = !f;
    if (!f) { return; }
    var p = f.properties;
    $("detail-title").textContent = "#" + p.id + " " + labelOf(state.meta.rules, p.rule);
    var meta = [tr("statuses")[p.status] || p.status, p.kecamatan, wib(p.last_seen_at)];
    if (p.closed_reason) { meta.push(labelOf(state.meta.reasons, p.closed_reason)); }
    var names = p.subject_names || {};
    if (names.foreigner) { meta.push(names.foreigner); }
    if (p.workplace_name) { meta.push(p.workplace_name); }
    $("detail-meta").textContent = meta.filter(Boolean).join(" · ");
    var notes = $("detail-notes");
    notes.textContent = "";
    (p.notes || []).forEach(function (n) {
      var li = el("li");
      li.appendChild(el("div", "note-head", wib(n.created_at) + " · " + n.author + " · " +
        (tr("actions")[n.action] || n.action)));
      var body = n.action === "resolve" ? labelOf(state.meta.reasons, n.body) : n.body;
      if (body) { li.appendChild(el("div", "note-body", body)); }
      notes.appendChild(li);
    });
    if (!(p.notes || []).length) { notes.appendChild(el("li", "", tr("nohistory"))); }
  }

  function act(action, extra) {
    var ids = targets();
    var body = Object.assign({ action: action, ids: ids }, extra);
    var note = $("a-note").value.trim();
    if (note) { body.note = note; }
    $("action-state").textContent = "";
    return api("/api/v1/alerts/actions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (answer) {
        if (!r.ok) { throw new Error(answer.detail || String(r.status)); }
        return answer;
      });
    }).then(function () {
      $("a-note").value = "";
      $("a-user").value = ""; $("a-reason").value = "";
      state.picked = {};
      $("action-state").textContent = tr("saved");
      $("action-state").setAttribute("data-done", action);
      var reload = loadQueue(false);
      return state.focus !== null ? Promise.all([reload, focusAlert(state.focus)]) : reload;
    }).catch(function (err) { $("action-state").textContent = err.message; });
  }

  $("a-assign").addEventListener("click", function () {
    if (!$("a-user").value) { $("action-state").textContent = tr("needuser"); return; }
    act("assign", { user: $("a-user").value });
  });
  $("a-ack").addEventListener("click", function () { act("acknowledge", {}); });
  $("a-resolve").addEventListener("click", function () {
    if (!$("a-reason").value) { $("action-state").textContent = tr("needreason"); return; }
    act("resolve", { reason: $("a-reason").value });
  });
  $("a-note-add").addEventListener("click", function () {
    if (!$("a-note").value.trim()) { $("action-state").textContent = tr("neednote"); return; }
    act("note", {});
  });
  $("a-clear").addEventListener("click", function () { state.picked = {}; renderQueue(); });
  $("alert-more").addEventListener("click", function () { loadQueue(true); });
  ["q-rule", "q-severity", "q-status", "q-assignee"].forEach(function (id) {
    $(id).addEventListener("change", function () { loadQueue(false); });
  });
  $("map").addEventListener("load", function () { if (state.detail) { postFocus(); } });

  // New alerts arrive on the stream: reload the queue (at most once a second) so its order and
  // totals stay true, rather than pushing the alert on top.
  function scheduleReload() {
    if (state.reload) { return; }
    state.reload = setTimeout(function () { state.reload = null; loadQueue(false); }, 1000);
  }

  function openStream() {
    if (state.source) { state.source.close(); }
    // EventSource cannot send headers: the token goes in the query string (api/auth.py).
    var src = new EventSource("/api/v1/alerts/stream?access_token=" + encodeURIComponent(token()));
    src.addEventListener("alert", scheduleReload);
    src.onopen = function () { renderQueue(); };
    src.onerror = function () { $("alert-state").textContent = tr("offline"); };
    state.source = src;
  }

  function loadAlerts() {
    state.features = []; state.picked = {}; state.focus = null; state.detail = null;
    fillQueueSelects();
    return loadQueue(false).then(function () {
      if (state.meta.alerts.stream) { openStream(); }
    });
  }

  // --- sign-in --------------------------------------------------------------------------------

  function start() {
    return api("/dashboard/meta").then(function (r) {
      if (r.status === 401 || r.status === 403) { throw new Error(tr("badtoken")); }
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (meta) {
      state.meta = meta;
      $("signin").hidden = true; $("app").hidden = false; $("who").hidden = false;
      $("who-name").textContent = meta.user; $("who-role").textContent = meta.role;
      fillSelects();
      applyLanguage();
      // The patrol panel (patrols.js) decides from meta.patrols whether it shows at all.
      document.dispatchEvent(new CustomEvent("timpora:signedin", { detail: meta }));
      return Promise.all([loadMap(), loadAlerts()]);
    });
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.source) { state.source.close(); state.source = null; }
    document.dispatchEvent(new CustomEvent("timpora:signedout"));
    ["data-view", "data-query", "data-pending-view", "data-pending-query"].forEach(function (a) {
      $("map").removeAttribute(a);
    });
    $("map").srcdoc = ""; $("app").hidden = true; $("who").hidden = true; $("signin").hidden = false;
  }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("signin-error").textContent = "";
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    start().catch(function (err) { sessionStorage.removeItem(TOKEN_KEY); $("signin-error").textContent = err.message; });
  });
  $("sign-out").addEventListener("click", signOut);
  $("filters").addEventListener("submit", function (ev) {
    ev.preventDefault();
    loadMap();
    if (state.meta) { loadQueue(false); }
  });
  $("f-layer").addEventListener("change", function () { fillSelects(); });
  $("f-lang").addEventListener("change", function () { state.lang = $("f-lang").value; applyLanguage(); loadMap(); });

  if (token()) { start().catch(function () { signOut(); }); }
})();
