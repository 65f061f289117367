// Timpora Map dashboard, our agency's restricted reports: the incidents (and, for roles with
// personal data, the sightings) that the caller's agency reported and shared with fewer than the
// whole Timpora, newest first, each with a control to widen its sharing — to more agencies or to
// the whole Timpora. A record's sharing is only ever widened, and only by its reporting agency
// (docs/privacy.md, "Sharing between agencies"); the service checks both, this panel only offers
// what it would accept. The records come from the OGC API with a CQL2 filter on the agency and
// the level; the change is a PATCH of the record. Every text goes in through textContent.
(function () {
  "use strict";

  var PAGE = 50;  // the newest restricted records per layer; the API and OGC page the rest
  var I18N = {
    id: {
      title: "Laporan terbatas instansi kami", none: "Tidak ada laporan terbatas.",
      loading: "Memuat…", failed: "Gagal: ", saved: "Diperluas: ", record: "Laporan",
      when: "Waktu (WIB)", where: "Kecamatan", shared: "Dibagikan kepada", widen: "Perluas ke",
      go: "Perluas", timpora: "Seluruh Timpora", agency_only: "hanya {a}",
      add: "+ {a}", more: "Ada lebih banyak; lihat API.",
      layers: { incidents: "Kejadian", sightings: "Penampakan" }
    },
    en: {
      title: "Our agency's restricted reports", none: "No restricted reports.",
      loading: "Loading…", failed: "Failed: ", saved: "Widened: ", record: "Report",
      when: "Time (WIB)", where: "District", shared: "Shared with", widen: "Widen to",
      go: "Widen", timpora: "The whole Timpora", agency_only: "{a} only",
      add: "+ {a}", more: "There are more; see the API.",
      layers: { incidents: "Incident", sightings: "Sighting" }
    }
  };
  // The time each layer's record is about.
  var WHEN = { incidents: "occurred_at", sightings: "observed_at" };

  var $ = function (id) { return document.getElementById(id); };
  // When shown: { layers: [...], agency: "POLRES", agencies: ["KODIM", ...], kinds: meta.kinds }
  var state = null;

  function lang() { return $("f-lang").value === "en" ? "en" : "id"; }
  function tr(key) { return I18N[lang()][key] || I18N.id[key] || key; }
  function fill(key, agency) { return tr(key).replace("{a}", agency); }

  // A JSON request with the token, text-only elements, WIB times (dashboard-common.js).
  var api = window.TimporaDashboard.requestJson;
  var el = window.TimporaDashboard.el;
  var wib = window.TimporaDashboard.wib;


  // A CQL2 text literal: the value between single quotes, a quote doubled.
  function literal(value) { return "'" + String(value).replace(/'/g, "''") + "'"; }

  // The labels in the chosen language; the rows already fetched are drawn again, not fetched.
  function applyLanguage() {
    document.querySelectorAll("[data-sh-i18n]").forEach(function (e) {
      e.textContent = tr(e.getAttribute("data-sh-i18n"));
    });
    if (state && state.pages) { render(); }
  }

  function sharedText(p) {
    if (p.sharing === "agency") { return fill("agency_only", p.agency || ""); }
    return [p.agency].concat(p.shared_with || []).filter(Boolean).join(", ");
  }

  // The wider levels a record may be given: each agency it does not reach yet, and the whole
  // Timpora.
  function options(select, p) {
    var reached = [p.agency].concat(p.shared_with || []);
    state.agencies.forEach(function (a) {
      if (reached.indexOf(a) >= 0) { return; }
      var o = el("option", fill("add", a));
      o.value = a;
      select.appendChild(o);
    });
    var all = el("option", tr("timpora"));
    all.value = "";
    select.appendChild(all);
  }

  function widen(layer, feature, choice, button) {
    var p = feature.properties;
    var body = choice === ""
      ? { sharing: "timpora" }
      : { sharing: "agencies", shared_with: (p.shared_with || []).concat([choice]) };
    button.disabled = true;
    $("sh-status").textContent = tr("loading");
    return api("/api/v1/" + encodeURIComponent(layer) + "/" + encodeURIComponent(feature.id), {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ properties: body })
    }).then(function () {
      $("sh-status").textContent = tr("saved") + tr("layers")[layer] + " #" + feature.id;
      return load(true);
    }).catch(function (err) {
      button.disabled = false;
      $("sh-status").textContent = tr("failed") + err.message;
    });
  }

  function row(layer, feature) {
    var p = feature.properties;
    var tr_ = document.createElement("tr");
    tr_.setAttribute("data-record", layer + ":" + feature.id);
    var kind = (state.kinds[layer] || []).filter(function (k) { return k.value === p.kind; })[0];
    var what = tr("layers")[layer] + " #" + feature.id +
      (p.kind ? " · " + (kind ? kind[lang()] || p.kind : p.kind) : "");
    [what, wib(p[WHEN[layer]]), p.kecamatan_name || "", sharedText(p)].forEach(function (v) {
      tr_.appendChild(el("td", v));
    });
    var cell = document.createElement("td");
    var select = document.createElement("select");
    select.setAttribute("aria-label", tr("widen"));
    options(select, p);
    var button = el("button", tr("go"));
    button.type = "button";
    button.addEventListener("click", function () { widen(layer, feature, select.value, button); });
    cell.appendChild(select);
    cell.appendChild(document.createTextNode(" "));
    cell.appendChild(button);
    tr_.appendChild(cell);
    return tr_;
  }

  function items(layer) {
    var q = new URLSearchParams();
    q.set("filter", "agency = " + literal(state.agency) + " AND sharing <> 'timpora'");
    q.set("filter-lang", "cql2-text");
    q.set("sortby", "-" + WHEN[layer]);
    q.set("limit", String(PAGE));
    return api("/ogc/collections/" + encodeURIComponent(layer) + "/items?" + q.toString())
      .then(function (body) { return { layer: layer, body: body }; });
  }

  function render() {
    var body = $("sh-list").querySelector("tbody");
    body.textContent = "";
    var count = 0, more = false;
    state.pages.forEach(function (page) {
      (page.body.features || []).forEach(function (f) {
        body.appendChild(row(page.layer, f));
        count += 1;
      });
      more = more || (page.body.links || []).some(function (l) { return l.rel === "next"; });
    });
    $("sh-list").hidden = count === 0;
    $("sh-empty").hidden = count > 0;
    $("sh-more").hidden = !more;
    $("sh-count").textContent = String(count) + (more ? "+" : "");
    $("sh-count").hidden = count === 0;
  }

  function load(keepStatus) {
    if (!keepStatus) { $("sh-status").textContent = tr("loading"); }
    return Promise.all(state.layers.map(items)).then(function (pages) {
      if (!state) { return; }  // signed out meanwhile
      state.pages = pages;
      render();
      if (!keepStatus) { $("sh-status").textContent = ""; }
    }).catch(function (err) { $("sh-status").textContent = tr("failed") + err.message; });
  }

  // On sign-in, from the meta the dashboard fetched (its "widen": the layers whose restricted
  // records this caller's agency may widen).
  function start(m) {
    if (!m.agency || !(m.widen || []).length) { $("jobs-sharing").hidden = true; return null; }
    return api("/api/v1/agencies").then(function (body) {
      state = {
        layers: m.widen,
        agency: m.agency,
        kinds: m.kinds || {},
        pages: null,
        // The active agencies besides ours: a record is shared with active agencies only.
        agencies: (body.agencies || []).filter(function (a) { return a.active; })
          .map(function (a) { return a.short_name; })
          .filter(function (a) { return a !== m.agency; })
      };
      $("jobs-sharing").hidden = false;
      applyLanguage();
      return load();
    }).catch(function () { $("jobs-sharing").hidden = true; });
  }

  // The panel follows the dashboard's sign-in (dashboard.js's events): shown for the roles the
  // meta names, emptied on sign-out.
  document.addEventListener("timpora:signedin", function (ev) { start(ev.detail); });
  document.addEventListener("timpora:signedout", function () {
    state = null;
    $("jobs-sharing").hidden = true; $("jobs-sharing").open = false;
    $("sh-list").querySelector("tbody").textContent = "";
    $("sh-status").textContent = "";
  });

  $("f-lang").addEventListener("change", applyLanguage);
})();
