// The dashboard's patrol panel: each team's last position, live, and a day's tracks replayed.
// Officers' movements are personal data: the panel exists only when /dashboard/meta says the
// caller's role manages patrols (meta.patrols); for any other role nothing here runs and the
// toggle stays hidden. Team and device names are only ever set as text (textContent, or a text
// node handed to Leaflet), never as HTML.
(function () {
  "use strict";

  var TOKEN_KEY = "timpora.token";
  // The map frame keeps the dashboard's policy: a map is requested with this page's nonce.
  var NONCE = (document.currentScript && document.currentScript.nonce) || "";
  var WIB_S = 7 * 3600;
  var COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                 "#1f78b4", "#b2182b", "#4d4d4d"];
  var TEXT = {
    id: {
      toggle: "Patroli", title: "Patroli: posisi terakhir dan putar ulang", day: "Hari",
      team: "Tim", allteams: "Semua tim", play: "Putar", pause: "Jeda",
      live: "Posisi langsung tersambung.", offline: "Aliran posisi terputus; mencoba lagi…",
      noday: "Tidak ada jejak pada hari ini.", loading: "Memuat jejak…", failed: "Gagal memuat",
      truncated: "Jejak dipangkas (terlalu banyak posisi).", last: "posisi terakhir",
      replay: "putar ulang", km: "km", compare: "Bandingkan dengan rencana",
      comparing: "Memuat rencana vs jejak…"
    },
    en: {
      toggle: "Patrols", title: "Patrols: last positions and replay", day: "Day",
      team: "Team", allteams: "All teams", play: "Play", pause: "Pause",
      live: "Live positions connected.", offline: "Position stream interrupted; retrying…",
      noday: "No tracks on this day.", loading: "Loading tracks…", failed: "Could not load",
      truncated: "Tracks cut short (too many positions).", last: "last position",
      replay: "replay", km: "km"
    }
  };

  var st = null;  // the panel's state while signed in with a role that manages patrols
  var $ = function (id) { return document.getElementById(id); };

  function lang() { return ($("f-lang") && $("f-lang").value === "en") ? "en" : "id"; }
  function tr(key) { return TEXT[lang()][key] || key; }

  function api(path) {
    return fetch(path, { headers: { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) } })
      .then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      });
  }

  // Epoch seconds or an ISO time → "HH:MM WIB".
  function clock(value) {
    var ms = typeof value === "number" ? value * 1000 : Date.parse(value);
    if (isNaN(ms)) { return ""; }
    return new Date(ms + WIB_S * 1000).toISOString().slice(11, 16) + " WIB";
  }

  function todayWib() { return new Date(Date.now() + WIB_S * 1000).toISOString().slice(0, 10); }

  // Tooltip content as a text node: Leaflet puts strings in as HTML, nodes as they are.
  function textNode(parts) {
    var el = document.createElement("span");
    el.textContent = parts.filter(Boolean).join(" · ");
    return el;
  }

  function colour(team) {
    if (!(team in st.colours)) {
      st.colours[team] = COLOURS[Object.keys(st.colours).length % COLOURS.length];
    }
    return st.colours[team];
  }

  function labels() {
    document.querySelectorAll("#patrols [data-p]").forEach(function (el) {
      el.textContent = tr(el.getAttribute("data-p"));
    });
    $("patrol-toggle").textContent = tr("toggle");
    $("patrol-play").textContent = st && st.timer ? tr("pause") : tr("play");
    if (st) { renderList(); }
  }

  // --- the map --------------------------------------------------------------------------------

  function makeMap() {
    st.map = L.map("patrol-map", { zoomSnap: 0.25, attributionControl: false });
    st.map.fitBounds([[0.85, 108.85], [2.1, 109.95]]);
    st.lines = L.layerGroup().addTo(st.map);
    st.heads = L.layerGroup().addTo(st.map);
    st.live = L.layerGroup().addTo(st.map);
    // The regency's kecamatan outlines (no personal data; the field form caches the same).
    fetch("/field/api/context").then(function (r) { return r.ok ? r.json() : null; })
      .then(function (ctx) {
        if (!ctx || !st) { return; }
        L.geoJSON(ctx.outline, { style: { color: "#777", weight: 1, fill: true, fillColor: "#f4f1ea",
                                          fillOpacity: 0.6 }, interactive: false })
          .addTo(st.map).bringToBack();
        var b = ctx.bbox;
        if (!st.fitted) { st.map.fitBounds([[b[1], b[0]], [b[3], b[2]]]); }
      }).catch(function () { /* the outline is a backdrop only */ });
  }

  // Zoom to the teams once there is something to show (the regency's outline until then).
  function fitData() {
    var b = L.latLngBounds([]);
    Object.keys(st.markers).forEach(function (k) { b.extend(st.markers[k].getLatLng()); });
    st.tracks.forEach(function (track) {
      track.parts.forEach(function (part) { b.extend(L.latLngBounds(part.latlngs)); });
    });
    if (b.isValid()) { st.map.fitBounds(b.pad(0.15), { maxZoom: 14 }); st.fitted = true; }
  }

  // --- live positions -------------------------------------------------------------------------

  function showPosition(feature) {
    var p = feature.properties || {};
    var c = feature.geometry.coordinates;
    var marker = st.markers[p.team];
    if (!marker) {
      marker = L.circleMarker([c[1], c[0]], { radius: 8, weight: 3, color: "#fff",
                                              fillColor: colour(p.team), fillOpacity: 1 });
      marker.addTo(st.live);
      st.markers[p.team] = marker;
    }
    marker.setLatLng([c[1], c[0]]);
    marker.unbindTooltip();
    marker.bindTooltip(textNode([p.team, p.device, tr("last") + " " + clock(p.recorded_at)]),
                       { permanent: true, direction: "right", offset: [8, 0], className: "patrol-tip" });
    st.positions[p.team] = p;
    renderList();
  }

  function openStream() {
    if (st.source) { st.source.close(); }
    var src = new EventSource("/api/v1/patrols/positions/stream?access_token=" +
                              encodeURIComponent(sessionStorage.getItem(TOKEN_KEY)));
    src.addEventListener("position", function (ev) {
      try { showPosition(JSON.parse(ev.data)); } catch (e) { /* not a position */ }
    });
    src.addEventListener("revoked", function () { src.close(); });
    src.onopen = function () { $("patrol-state").textContent = tr("live"); };
    src.onerror = function () { $("patrol-state").textContent = tr("offline"); };
    st.source = src;
  }

  function loadPositions() {
    return api("/api/v1/patrols/positions?minutes=1440").then(function (fc) {
      (fc.features || []).forEach(showPosition);
      $("patrols").setAttribute("data-live", "ready");
      fitData();
    });
  }

  // --- replay ---------------------------------------------------------------------------------

  function loadDay() {
    stop();
    st.lines.clearLayers(); st.heads.clearLayers(); st.tracks = [];
    $("patrol-state").textContent = tr("loading");
    $("patrols").setAttribute("data-replay", "loading");
    var day = $("patrol-day").value || todayWib();
    var ticket = st.dayTicket = (st.dayTicket || 0) + 1;  // only the latest answer is drawn
    return api("/api/v1/patrols/replay?day=" + encodeURIComponent(day)).then(function (fc) {
      if (!st || ticket !== st.dayTicket) { return; }
      var teamSelect = $("patrol-team");
      while (teamSelect.options.length > 1) { teamSelect.remove(1); }
      var first = null, last = null;
      (fc.features || []).forEach(function (f) {
        var p = f.properties;
        var o = document.createElement("option");
        o.value = p.team; o.textContent = p.team;
        teamSelect.appendChild(o);
        var parts = f.geometry.coordinates.map(function (line, i) {
          return { latlngs: line.map(function (c) { return [c[1], c[0]]; }), times: p.times[i] };
        });
        var track = { team: p.team, devices: p.devices, parts: parts, colour: colour(p.team),
                      started: p.started_at, ended: p.ended_at, walked: [] };
        parts.forEach(function (part) {
          // The whole day faintly, the walked part boldly as the clock runs.
          L.polyline(part.latlngs, { color: track.colour, weight: 2, opacity: 0.35, dashArray: "4 4",
                                     interactive: false }).addTo(st.lines);
          track.walked.push(L.polyline([], { color: track.colour, weight: 4 }).addTo(st.lines));
        });
        track.head = L.circleMarker(parts[0].latlngs[0], { radius: 6, color: track.colour,
                                                           fillColor: "#fff", fillOpacity: 1, weight: 3 });
        track.head.bindTooltip(textNode([p.team]), { direction: "top", className: "patrol-tip" });
        track.head.addTo(st.heads);
        st.tracks.push(track);
        first = first === null ? p.started_at : Math.min(first, p.started_at);
        last = last === null ? p.ended_at : Math.max(last, p.ended_at);
      });
      var slider = $("patrol-time");
      slider.step = String(fc.step_s || 30);
      slider.min = String(first === null ? fc.start : first);
      slider.max = String(last === null ? fc.start : last);
      slider.value = slider.max;
      $("patrols").setAttribute("data-replay", st.tracks.length ? "ready" : "empty");
      $("patrol-state").textContent = st.tracks.length
        ? (fc.truncated ? tr("truncated") : (st.source ? tr("live") : ""))
        : tr("noday");
      seek(Number(slider.value));
      fitData();
    }).catch(function (err) { $("patrol-state").textContent = tr("failed") + ": " + err.message; });
  }

  // The last index of ``times`` at or before ``t`` (-1: none yet).
  function upTo(times, t) {
    var lo = 0, hi = times.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (times[mid] <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function seek(t) {
    var only = $("patrol-team").value;
    st.tracks.forEach(function (track) {
      var shown = !only || only === track.team;
      var head = null;
      track.parts.forEach(function (part, i) {
        var n = shown ? upTo(part.times, t) : -1;
        track.walked[i].setLatLngs(n >= 0 ? part.latlngs.slice(0, n + 1) : []);
        if (n >= 0) { head = part.latlngs[n]; }
      });
      if (head) {
        track.head.setLatLng(head);
        if (!st.heads.hasLayer(track.head)) { st.heads.addLayer(track.head); }
      } else if (st.heads.hasLayer(track.head)) {
        st.heads.removeLayer(track.head);
      }
    });
    $("patrol-clock").textContent = st.tracks.length ? clock(t) : "";
    $("patrols").setAttribute("data-clock", String(t));
  }

  function stop() {
    if (st.timer) { clearInterval(st.timer); st.timer = null; }
    $("patrol-play").textContent = tr("play");
  }

  function play() {
    if (st.timer) { stop(); return; }
    var slider = $("patrol-time");
    var lo = Number(slider.min), hi = Number(slider.max);
    if (hi <= lo) { return; }
    if (Number(slider.value) >= hi) { slider.value = String(lo); }
    var stride = Math.max(Number(slider.step), (hi - lo) / 150);  // about 15 s for a day
    $("patrol-play").textContent = tr("pause");
    st.timer = setInterval(function () {
      var t = Math.min(hi, Number(slider.value) + stride);
      slider.value = String(t);
      seek(t);
      if (t >= hi) { stop(); }
    }, 100);
  }

  // The patrol view for the chosen day in the dashboard's map frame: the plan's stops visited
  // or missed by that day's tracks (maps/patrol.py), fetched with the token in a header.
  function compare() {
    var p = new URLSearchParams();
    p.set("day", $("patrol-day").value || todayWib());
    p.set("lang", lang());
    $("map-status").textContent = tr("comparing");
    var headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
    if (NONCE) { headers["X-Script-Nonce"] = NONCE; }
    return fetch("/maps/patrol?" + p.toString(), { headers: headers })
      .then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.text();
      })
      .then(function (html) {
        // data-view follows once the page has loaded (dashboard.js, the frame's load event)
        $("map").removeAttribute("data-view");
        $("map").removeAttribute("data-query");
        $("map").setAttribute("data-pending-view", "patrol-day");
        $("map").setAttribute("data-pending-query", p.toString());
        $("map").srcdoc = html;
        $("map-status").textContent = "";
      })
      .catch(function (err) { $("map-status").textContent = tr("failed") + ": " + err.message; });
  }

  // --- the team list --------------------------------------------------------------------------

  function renderList() {
    var list = $("patrol-list");
    list.textContent = "";
    var teams = {};
    Object.keys(st.positions).forEach(function (k) { teams[k] = true; });
    (st.tracks || []).forEach(function (tr_) { teams[tr_.team] = true; });
    Object.keys(teams).sort().forEach(function (team) {
      var li = document.createElement("li");
      li.setAttribute("data-team", team);
      var swatch = document.createElement("span");
      swatch.className = "swatch"; swatch.style.background = colour(team);
      li.appendChild(swatch);
      var name = document.createElement("strong"); name.textContent = team;
      li.appendChild(name);
      var pos = st.positions[team];
      var track = (st.tracks || []).filter(function (x) { return x.team === team; })[0];
      var info = document.createElement("span");
      info.textContent = [
        pos ? tr("last") + " " + clock(pos.recorded_at) + (pos.device ? " (" + pos.device + ")" : "") : "",
        track ? tr("replay") + " " + clock(track.started) + "–" + clock(track.ended) : ""
      ].filter(Boolean).join(" · ");
      li.appendChild(info);
      list.appendChild(li);
    });
  }

  // --- the panel's life -----------------------------------------------------------------------

  function setOpen(open) {
    $("patrols").hidden = !open;
    $("patrol-toggle").setAttribute("aria-pressed", open ? "true" : "false");
    if (!open) { return; }
    if (!st.map) {
      makeMap();
      if (!$("patrol-day").value) { $("patrol-day").value = todayWib(); }
      var live = st.meta.patrols.positions ? loadPositions() : Promise.resolve();
      live.then(function () { if (st.meta.patrols.stream) { openStream(); } })
        .catch(function (err) { $("patrol-state").textContent = tr("failed") + ": " + err.message; });
      if (st.meta.patrols.replay) { loadDay(); }
    }
    st.map.invalidateSize();
  }

  function signedIn(meta) {
    signedOut();
    var caps = meta.patrols || {};
    if (!(caps.positions || caps.replay) || typeof L === "undefined") { return; }
    st = { meta: meta, map: null, markers: {}, positions: {}, tracks: [], colours: {},
           source: null, timer: null };
    $("patrol-toggle").hidden = false;
    $("patrol-day").max = todayWib();
    labels();
  }

  function signedOut() {
    if (!st) { return; }
    stop();
    if (st.source) { st.source.close(); }
    if (st.map) { st.map.remove(); }
    st = null;
    $("patrols").hidden = true;
    $("patrol-toggle").hidden = true;
    $("patrol-list").textContent = "";
  }

  document.addEventListener("timpora:signedin", function (ev) { signedIn(ev.detail); });
  document.addEventListener("timpora:signedout", signedOut);
  (function bind() {  // the script runs at the end of the body: the elements exist
    $("patrol-toggle").addEventListener("click", function () { if (st) { setOpen($("patrols").hidden); } });
    $("patrol-day").addEventListener("change", function () { if (st && st.map) { loadDay(); } });
    $("patrol-team").addEventListener("change", function () {
      if (st) { seek(Number($("patrol-time").value)); }
    });
    $("patrol-time").addEventListener("input", function () {
      if (st) { stop(); seek(Number($("patrol-time").value)); }
    });
    $("patrol-play").addEventListener("click", function () { if (st) { play(); } });
    $("patrol-compare").addEventListener("click", function () { if (st) { compare(); } });
    $("f-lang").addEventListener("change", function () { if (st) { labels(); } });
  })();
})();
