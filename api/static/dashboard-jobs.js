// Timpora Map dashboard, daily jobs: download what is on screen (data, map snapshot, briefing
// pack), import a file with its per-row report, and (administrators) add, rotate and revoke
// users. Plain JS, same-origin requests with the
// token of the sign-in (sessionStorage); every text goes in through textContent.
(function () {
  "use strict";

  var TOKEN_KEY = "timpora.token";
  var I18N = {
    id: {
      export_title: "Unduh tampilan ini", format: "Format data", export_data: "Data lapisan",
      snapshot_png: "Peta PNG", snapshot_pdf: "Peta PDF", briefing: "Paket briefing (PDF)",
      import_title: "Impor berkas", import_layer: "Lapisan",
      import_file: "Berkas (CSV, XLSX, GeoJSON, GeoPackage, Shapefile .zip)",
      dry_run: "Periksa saja (tidak menyimpan)", import_go: "Impor",
      row: "Baris", field: "Kolom", value: "Nilai", problem: "Masalah",
      preparing: "Menyiapkan unduhan…", saved: "Diunduh: ", failed: "Gagal: ",
      no_snapshot: "Tampilan ini belum dapat dicetak sebagai peta.",
      uploading: "Mengunggah…", queued: "Menunggu giliran…", running: "Memproses…",
      checked: "Berkas valid; tidak ada yang disimpan (periksa saja). Baris: ",
      imported: "Diimpor: ", rejected: "Berkas ditolak; tidak ada yang disimpan. Masalah per baris:",
      rows_new: " baris baru", rows_updated: ", diperbarui: ",
      share: "Dibagikan kepada", share_timpora: "Seluruh Timpora", share_agencies: "Instansi terpilih",
      share_agency: "Hanya instansi kami", need_agencies: "Pilih minimal satu instansi.",
      shared_as: " · dibagikan kepada: ",
      users_title: "Pengguna", user_name: "Nama", user_role: "Peran", user_add: "Tambah pengguna",
      created: "Dibuat (WIB)", revoked: "Dicabut (WIB)", actions: "Tindakan",
      rotate: "Token baru", revoke: "Cabut", active: "aktif",
      token_once: "Token baru — salin sekarang, hanya ditampilkan sekali:",
      confirm_rotate: "Buat token baru untuk {name}? Token lamanya berhenti berlaku.",
      confirm_revoke: "Cabut akses {name}? Permintaan dengan tokennya ditolak mulai sekarang.",
      user_added: "Pengguna ditambahkan: ", user_rotated: "Token baru untuk: ",
      user_revoked: "Akses dicabut: ",
      layers: { workplaces: "Tempat kerja", foreigners: "WNA", incidents: "Kejadian",
                sightings: "Laporan keberadaan" }
    },
    en: {
      export_title: "Download this view", format: "Data format", export_data: "Layer data",
      snapshot_png: "Map PNG", snapshot_pdf: "Map PDF", briefing: "Briefing pack (PDF)",
      import_title: "Import a file", import_layer: "Layer",
      import_file: "File (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile)",
      dry_run: "Check only (save nothing)", import_go: "Import",
      row: "Row", field: "Column", value: "Value", problem: "Problem",
      preparing: "Preparing the download…", saved: "Downloaded: ", failed: "Failed: ",
      no_snapshot: "This view cannot be printed as a map yet.",
      uploading: "Uploading…", queued: "Waiting for its turn…", running: "Processing…",
      checked: "The file is valid; nothing was saved (check only). Rows: ",
      imported: "Imported: ", rejected: "File rejected; nothing was saved. Problems per row:",
      rows_new: " new rows", rows_updated: ", updated: ",
      share: "Shared with", share_timpora: "The whole Timpora", share_agencies: "Chosen agencies",
      share_agency: "Our agency only", need_agencies: "Choose at least one agency.",
      shared_as: " · shared with: ",
      users_title: "Users", user_name: "Name", user_role: "Role", user_add: "Add user",
      created: "Created (WIB)", revoked: "Revoked (WIB)", actions: "Actions",
      rotate: "New token", revoke: "Revoke", active: "active",
      token_once: "New token — copy it now, it is shown this once:",
      confirm_rotate: "Issue a new token for {name}? Their old token stops working.",
      confirm_revoke: "Revoke {name}'s access? Requests with their token are refused from now on.",
      user_added: "User added: ", user_rotated: "New token for: ", user_revoked: "Access revoked: ",
      layers: { workplaces: "Workplaces", foreigners: "Foreigners", incidents: "Incidents",
                sightings: "Sightings" }
    }
  };
  // The dashboard's views as the printed snapshot's layers (the timeline's slider cannot be
  // printed: its period as one heat map). A view without a layer prints nothing rather than
  // another view's map.
  var SNAPSHOT_LAYER = { overview: "choropleth", heatmap: "heat", hexbins: "hexbins",
                         timeline: "heat", hotspots: "hotspots", patrol: "patrol", risk: "risk" };
  var POLL_MS = 400;

  var $ = function (id) { return document.getElementById(id); };
  var jobs = null;  // the meta's "jobs": what this role may do
  var ownAgency = null;  // the caller's agency (short name): it always sees its own records

  function lang() { return $("f-lang").value === "en" ? "en" : "id"; }
  function tr(key) { return I18N[lang()][key] || I18N.id[key] || key; }

  function api(path, options) {
    options = options || {};
    var token = sessionStorage.getItem(TOKEN_KEY);
    options.headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
    return fetch(path, options);
  }

  function applyLanguage() {
    document.querySelectorAll("[data-jobs-i18n]").forEach(function (el) {
      el.textContent = tr(el.getAttribute("data-jobs-i18n"));
    });
    if (jobs) { fillLayers(); }
  }

  // --- sharing of imported records (incidents, sightings) --------------------------------------

  function sharingShown() {
    return Boolean(jobs && (jobs.sharing || []).indexOf($("i-layer").value) >= 0);
  }

  function sharingLevel() {
    var picked = document.querySelector("input[name=i-share]:checked");
    return picked ? picked.value : "timpora";
  }

  function showSharing() {
    $("i-sharing").hidden = !sharingShown();
    $("i-share-agencies").hidden = sharingLevel() !== "agencies";
  }

  // The other active agencies, from the API, as ticks (names go in through textContent).
  function loadAgencies() {
    return api("/api/v1/agencies").then(function (r) {
      return r.ok ? r.json() : { agencies: [] };
    }).then(function (body) {
      var box = $("i-share-agencies");
      box.textContent = "";
      (body.agencies || []).forEach(function (agency) {
        if (!agency.active || agency.short_name === ownAgency) { return; }
        var label = document.createElement("label");
        label.className = "inline";
        label.title = agency.name;
        var box_ = document.createElement("input");
        box_.type = "checkbox"; box_.value = agency.short_name;
        var text = document.createElement("span");
        text.textContent = agency.short_name;
        label.appendChild(box_); label.appendChild(text);
        box.appendChild(label);
      });
    }).catch(function () { /* the whole-Timpora and own-agency choices still work */ });
  }

  function sharingLabel(sharing) {
    if (!sharing || sharing.sharing === "timpora") { return ""; }
    return tr("shared_as") + (sharing.sharing === "agency"
      ? tr("share_agency") : sharing.shared_with.join(", "));
  }

  function fillLayers() {
    var select = $("i-layer"), current = select.value;
    select.textContent = "";
    jobs["import"].forEach(function (layer) {
      var o = document.createElement("option");
      o.value = layer; o.textContent = tr("layers")[layer] || layer;
      select.appendChild(o);
    });
    if (current) { select.value = current; }
  }

  // The dashboard's current filters, as the export, snapshot and briefing routes take them.
  function filters(withKind) {
    var p = new URLSearchParams();
    if ($("f-start").value) { p.set("start", $("f-start").value); }
    if ($("f-end").value) { p.set("end", $("f-end").value); }
    if ($("f-kecamatan").value) { p.set("kecamatan", $("f-kecamatan").value); }
    if (withKind && $("f-kind").value) { p.set("kind", $("f-kind").value); }
    return p;
  }

  function problemText(body, status) {
    return (body && (body.detail || body.title)) || String(status);
  }

  function fileName(response, fallback) {
    var header = response.headers.get("Content-Disposition") || "";
    var match = /filename="?([^";]+)"?/.exec(header);
    return match ? match[1] : fallback;
  }

  function download(path, fallback, button) {
    var status = $("x-status");
    status.textContent = tr("preparing");
    button.disabled = true;
    return api(path).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return null; })
          .then(function (body) { throw new Error(problemText(body, r.status)); });
      }
      var name = fileName(r, fallback);
      return r.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = document.createElement("a");
        a.href = url; a.download = name; a.hidden = true;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
        status.textContent = tr("saved") + name;
        status.setAttribute("data-file", name);
      });
    }).catch(function (err) {
      status.textContent = tr("failed") + err.message;
    }).then(function () { button.disabled = false; });
  }

  function exportData() {
    var layer = $("f-layer").value;
    var p = filters(true);
    p.set("format", $("x-format").value);
    download("/api/v1/" + encodeURIComponent(layer) + "/export?" + p.toString(),
             layer + "." + $("x-format").value, $("x-data"));
  }

  // The snapshot prints the map on screen: the view and filters it was drawn with (the frame's
  // data-view and data-query, set once its page has loaded; dashboard.js), not choices in the
  // form that "Apply" has not yet drawn.
  function snapshot(fmt, button) {
    var map = $("map");
    var layer = SNAPSHOT_LAYER[map.getAttribute("data-view") || ""];
    if (!layer) {
      $("x-status").removeAttribute("data-file");
      $("x-status").textContent = tr("failed") + tr("no_snapshot");
      return;
    }
    var shown = new URLSearchParams(map.getAttribute("data-query") || "");
    // What the risk view is drawn with: a ranking as of today, narrowed to the kecamatan; the
    // period and kinds do not apply to it.
    var names = layer === "risk" ? ["kecamatan"] : ["start", "end", "kecamatan", "kind"];
    var p = new URLSearchParams();
    names.forEach(function (name) { if (shown.get(name)) { p.set(name, shown.get(name)); } });
    if (layer !== "risk") { p.set("source", shown.get("layer") || $("f-layer").value); }
    p.set("layer", layer);
    p.set("lang", lang());
    download("/maps/snapshot." + fmt + "?" + p.toString(), "snapshot." + fmt, button);
  }

  function briefing() {
    // The pack is about incidents: a kind filter of sightings (a source) does not apply.
    var p = filters($("f-layer").value === "incidents");
    p.set("lang", lang());
    download("/maps/briefing.pdf?" + p.toString(), "briefing.pdf", $("x-brief"));
  }

  // --- import ---------------------------------------------------------------------------------

  function showProblems(problems) {
    var table = $("i-report"), body = table.querySelector("tbody");
    body.textContent = "";
    problems.forEach(function (p) {
      var tr_ = document.createElement("tr");
      [p.row, p.field, p.value == null ? "" : p.value, p.reason].forEach(function (v) {
        var td = document.createElement("td");
        td.textContent = String(v);
        tr_.appendChild(td);
      });
      body.appendChild(tr_);
    });
    table.hidden = problems.length === 0;
  }

  function finished(job) {
    var status = $("i-status");
    $("import-form").querySelector("button[type=submit]").disabled = false;
    status.setAttribute("data-job", job.status);
    if (job.status === "succeeded") {
      var r = job.report || {};
      var n = (r.inserted || 0) + (r.updated || 0);
      status.textContent = (job.dry_run
        ? tr("checked") + n
        : tr("imported") + (r.inserted || 0) + tr("rows_new") + tr("rows_updated") + (r.updated || 0))
        + sharingLabel(job.sharing);
      showProblems([]);
      return;
    }
    var error = job.error || {};
    var problems = (error.errors && error.errors.problems) || [];
    status.textContent = problems.length ? tr("rejected") : tr("failed") + problemText(error, "");
    showProblems(problems);
  }

  function poll(url) {
    return api(url).then(function (r) {
      return r.json().then(function (job) {
        if (!r.ok) { throw new Error(problemText(job, r.status)); }
        if (job.status === "succeeded" || job.status === "failed") { return finished(job); }
        $("i-status").textContent = tr(job.status === "queued" ? "queued" : "running");
        return new Promise(function (resolve) { setTimeout(resolve, POLL_MS); })
          .then(function () { return poll(url); });
      });
    });
  }

  function startImport(ev) {
    ev.preventDefault();
    var file = $("i-file").files[0];
    if (!file) { return; }
    var params = new URLSearchParams();
    if ($("i-dry").checked) { params.set("dry_run", "true"); }
    if (sharingShown() && sharingLevel() !== "timpora") {
      params.set("sharing", sharingLevel());
      if (sharingLevel() === "agencies") {
        var chosen = Array.prototype.map.call(
          $("i-share-agencies").querySelectorAll("input:checked"), function (b) { return b.value; });
        if (!chosen.length) { $("i-status").textContent = tr("need_agencies"); return; }
        params.set("shared_with", chosen.join(","));
      }
    }
    var button = $("import-form").querySelector("button[type=submit]");
    button.disabled = true;
    showProblems([]);
    $("i-status").removeAttribute("data-job");
    $("i-status").textContent = tr("uploading");
    var form = new FormData();
    form.append("file", file, file.name);
    var layer = $("i-layer").value;
    var query = params.toString() ? "?" + params.toString() : "";
    api("/api/v1/" + encodeURIComponent(layer) + "/import" + query, { method: "POST", body: form })
      .then(function (r) {
        return r.json().then(function (job) {
          if (r.status !== 202) {
            finished({ status: "failed", error: Object.assign({ status: r.status }, job) });
            return null;
          }
          return poll(job.links.self);
        });
      })
      .catch(function (err) {
        button.disabled = false;
        $("i-status").textContent = tr("failed") + err.message;
      });
  }

  // --- users (administrators) ------------------------------------------------------------------

  var me = null;

  var wib = window.TimporaDashboard.wib;  // a WIB time as printed (dashboard-common.js)

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function showToken(token) {
    $("u-token").textContent = token || "";
    $("u-token-box").hidden = !token;
  }

  function userAction(name, action) {
    var key = action === "rotate" ? "confirm_rotate" : "confirm_revoke";
    if (!window.confirm(tr(key).replace("{name}", name))) { return; }
    showToken(null);
    api("/api/v1/users/" + encodeURIComponent(name) + "/" + action, { method: "POST" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(problemText(body, r.status)); }
          $("u-status").textContent = tr(action === "rotate" ? "user_rotated" : "user_revoked") + name;
          if (body.token) { showToken(body.token); }
          return loadUsers();
        });
      })
      .catch(function (err) { $("u-status").textContent = tr("failed") + err.message; });
  }

  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function loadUsers() {
    return api("/api/v1/users").then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(problemText(body, r.status)); }
        var roles = $("u-role"), current = roles.value;
        roles.textContent = "";
        body.roles.forEach(function (role) {
          var o = document.createElement("option");
          o.value = role; o.textContent = role;
          roles.appendChild(o);
        });
        roles.value = current || "viewer";
        var tbody = $("u-list").querySelector("tbody");
        tbody.textContent = "";
        body.users.forEach(function (u) {
          var row = document.createElement("tr");
          row.setAttribute("data-user", u.name);
          row.className = u.active ? "active" : "revoked";
          cell(row, u.name);
          cell(row, u.role);
          cell(row, wib(u.created_at));
          cell(row, u.active ? tr("active") : wib(u.revoked_at));
          var actions = cell(row, "");
          actions.appendChild(button(tr("rotate"), function () { userAction(u.name, "rotate"); }));
          if (u.active && u.name !== me) {
            actions.appendChild(button(tr("revoke"), function () { userAction(u.name, "revoke"); }));
          }
          tbody.appendChild(row);
        });
        $("u-list").setAttribute("data-count", String(body.users.length));
      });
    }).catch(function (err) { $("u-status").textContent = tr("failed") + err.message; });
  }

  function addUser(ev) {
    ev.preventDefault();
    showToken(null);
    var name = $("u-name").value.trim();
    api("/api/v1/users", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: name, role: $("u-role").value })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(problemText(body, r.status)); }
        $("u-status").textContent = tr("user_added") + body.name + " (" + body.role + ")";
        showToken(body.token);
        $("u-name").value = "";
        return loadUsers();
      });
    }).catch(function (err) { $("u-status").textContent = tr("failed") + err.message; });
  }

  // --- wiring ---------------------------------------------------------------------------------

  // The panel starts from the meta the dashboard fetched at sign-in (dashboard.js's event).
  function start(meta) {
    jobs = meta.jobs || { "export": [], "import": [], snapshot: false, briefing: false };
    var canExport = jobs["export"].indexOf($("f-layer").value) >= 0;
    $("x-data").hidden = !canExport; $("x-format").parentNode.hidden = !canExport;
    $("x-png").hidden = $("x-pdf").hidden = !jobs.snapshot;
    $("x-brief").hidden = !jobs.briefing;
    $("jobs-import").hidden = jobs["import"].length === 0;
    ownAgency = meta.agency || null;
    if ((jobs.sharing || []).length) { loadAgencies(); }
    $("jobs-users").hidden = !jobs.users;
    me = meta.user;
    fillLayers();
    showSharing();
    applyLanguage();
    $("jobs").hidden = false;
    if (jobs.users) { loadUsers(); }
  }

  // The panel follows the dashboard's sign-in: shown with the app, emptied on sign-out.
  document.addEventListener("timpora:signedin", function (ev) { start(ev.detail); });
  document.addEventListener("timpora:signedout", function () {
    $("jobs").hidden = true; jobs = null; showToken(null);
  });

  $("x-data").addEventListener("click", exportData);
  $("x-png").addEventListener("click", function () { snapshot("png", $("x-png")); });
  $("x-pdf").addEventListener("click", function () { snapshot("pdf", $("x-pdf")); });
  $("x-brief").addEventListener("click", briefing);
  $("import-form").addEventListener("submit", startImport);
  $("i-layer").addEventListener("change", showSharing);
  document.querySelectorAll("input[name=i-share]").forEach(function (radio) {
    radio.addEventListener("change", showSharing);
  });
  $("u-add").addEventListener("submit", addUser);
  $("f-lang").addEventListener("change", applyLanguage);
  $("f-layer").addEventListener("change", function () {
    if (!jobs) { return; }
    var canExport = jobs["export"].indexOf($("f-layer").value) >= 0;
    $("x-data").hidden = !canExport; $("x-format").parentNode.hidden = !canExport;
  });
})();
