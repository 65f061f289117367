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
      tokenhint: "Token dibuat dengan: timpora users add NAMA --role PERAN",
      views: { overview: "Ikhtisar", heatmap: "Peta panas", hexbins: "Heksagon", timeline: "Linimasa",
               hotspots: "Titik rawan", patrol: "Rencana patroli" },
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
      tokenhint: "Create a token with: timpora users add NAME --role ROLE",
      views: { overview: "Overview", heatmap: "Heatmap", hexbins: "Hexagons", timeline: "Timeline",
               hotspots: "Hotspots", patrol: "Patrol plan" },
      layers: { incidents: "Incidents", sightings: "Sightings" }
    }
  };

  var state = { meta: null, lang: "id", source: null, alerts: {} };
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
    if (state.meta) { fillSelects(); }
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

  function loadMap() {
    var view = $("f-view").value;
    $("map-status").textContent = tr("loading");
    // The page is fetched with the Authorization header and shown through srcdoc, so the token
    // never appears in a URL (server logs, history); the frame is sandboxed (an origin of its
    // own), so nothing in the map can read the token from this page's sessionStorage.
    return api("/maps/" + encodeURIComponent(view) + "?" + query(),
               { headers: NONCE ? { "X-Script-Nonce": NONCE } : {} })
      .then(function (r) {
        if (!r.ok) {
          return r.json().then(function (body) { throw new Error(body.detail || r.status); });
        }
        return r.text();
      })
      .then(function (html) {
        $("map").srcdoc = html;
        $("map").setAttribute("data-view", view);
        $("map-status").textContent = tr("loaded");
      })
      .catch(function (err) { $("map-status").textContent = tr("failed") + ": " + err.message; });
  }

  // --- alerts ---------------------------------------------------------------------------------

  // "2026-10-18T15:59:28+07:00" → "2026-10-18 15:59 WIB" (the API sends WIB times).
  function wib(iso) {
    if (!iso || iso.slice(-6) !== "+07:00") { return iso; }
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " WIB";
  }

  function alertFields(item) {
    var p = item && item.type === "Feature" ? (item.properties || {}) : (item || {});
    var id = p.id !== undefined ? p.id : item.id;
    return {
      id: id,
      rule: p.rule_kind || p.rule || "",
      severity: p.severity || 3,
      status: p.status || "new",
      place: [p.desa || p.desa_name, p.kecamatan || p.kecamatan_name].filter(Boolean).join(", "),
      when: wib(p.event_at_wib || p.event_at || p.created_at || ""),
      distance: p.distance_m
    };
  }

  function renderAlert(item, prepend) {
    var a = alertFields(item);
    if (a.id === undefined || a.id === null) { return; }
    var existing = state.alerts[a.id];
    var li = existing || document.createElement("li");
    li.className = "sev-" + a.severity + " " + a.status;
    li.setAttribute("data-alert-id", a.id);
    li.textContent = "";
    var rule = document.createElement("div"); rule.className = "rule";
    var label = (state.meta.rules && state.meta.rules[a.rule]) || {};
    rule.textContent = "#" + a.id + " " + (label[state.lang] || label.id || a.rule) +
      " · " + tr("severity") + " " + a.severity;
    li.appendChild(rule);
    var where = document.createElement("div");
    where.textContent = [a.place, a.when, a.distance != null ? Math.round(a.distance) + " m" : ""]
      .filter(Boolean).join(" · ");
    li.appendChild(where);
    if (state.meta.can_ack && state.meta.alerts.ack && a.status === "new") {
      var b = document.createElement("button");
      b.type = "button"; b.className = "ack"; b.textContent = tr("ack");
      b.addEventListener("click", function () { acknowledge(a.id, li, b); });
      li.appendChild(b);
    }
    if (!existing) {
      var list = $("alert-list");
      if (prepend) { list.insertBefore(li, list.firstChild); } else { list.appendChild(li); }
      state.alerts[a.id] = li;
    }
    updateCount();
  }

  function updateCount() {
    var n = document.querySelectorAll("#alert-list li.new").length;
    $("alert-count").textContent = String(n);
    if (state.meta.alerts.list) {
      $("alert-state").textContent = n ? (state.source ? tr("live") : "") : tr("noalerts");
    }
  }

  function acknowledge(id, li, button) {
    button.disabled = true;
    api("/api/v1/alerts/" + encodeURIComponent(id) + "/ack", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}"
    }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      li.classList.remove("new"); li.classList.add("acknowledged");
      button.textContent = tr("acked");
      updateCount();
    }).catch(function () { button.disabled = false; });
  }

  function loadAlerts() {
    var caps = state.meta.alerts;
    $("alert-list").textContent = ""; state.alerts = {};
    if (!caps.list) {
      $("alert-state").textContent = tr("unavailable");
      $("alerts").setAttribute("data-state", "unavailable");
      return Promise.resolve();
    }
    return api("/api/v1/alerts?status=new").then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (fc) {
      (fc.features || []).forEach(function (f) { renderAlert(f, false); });
      $("alerts").setAttribute("data-state", "ready");
      updateCount();
      if (caps.stream) { openStream(); }
    }).catch(function () {
      $("alert-state").textContent = tr("unavailable");
      $("alerts").setAttribute("data-state", "unavailable");
    });
  }

  function openStream() {
    if (state.source) { state.source.close(); }
    // EventSource cannot send headers: the token goes in the query string (api/auth.py).
    var src = new EventSource("/api/v1/alerts/stream?access_token=" + encodeURIComponent(token()));
    var onEvent = function (ev) {
      try { renderAlert(JSON.parse(ev.data), true); } catch (e) { /* keep-alive or other event */ }
    };
    src.onmessage = onEvent;
    src.addEventListener("alert", onEvent);
    src.onopen = function () { $("alert-state").textContent = tr("live"); };
    src.onerror = function () { $("alert-state").textContent = tr("offline"); };
    state.source = src;
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
      return Promise.all([loadMap(), loadAlerts()]);
    });
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.source) { state.source.close(); state.source = null; }
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
  $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); loadMap(); });
  $("f-layer").addEventListener("change", function () { fillSelects(); });
  $("f-lang").addEventListener("change", function () { state.lang = $("f-lang").value; applyLanguage(); loadMap(); });

  if (token()) { start().catch(function () { signOut(); }); }
})();
