// Timpora field form: record sightings and incidents with no signal, send each exactly once.
// Entries wait in IndexedDB ("outbox") with a UUID made here; the server keeps the first answer
// per UUID (Idempotency-Key), so a resend after a lost answer never writes twice. Every string
// from the server or the user reaches the page through textContent, never as HTML.
"use strict";

const TOKEN_KEY = "timpora-field-token";
const LANG_KEY = "timpora-field-lang";
const PHOTO_MAX_PX = 1600;

const I18N = {
  id: {
    title: "Laporan Lapangan", signin: "Masuk dengan token perangkat",
    signin_help: "Token diberikan oleh administrator untuk ponsel ini.", signin_button: "Masuk",
    what: "Jenis laporan", sighting: "Keberadaan orang asing", incident: "Kejadian",
    source: "Sumber", incident_kind: "Jenis kejadian", severity: "Tingkat (1–5)", time: "Waktu",
    where: "Lokasi", use_gps: "Pakai lokasi ponsel", tap_help: "Atau ketuk peta untuk memilih titik.",
    note: "Catatan", photo: "Foto (opsional)", save: "Simpan", outbox: "Antrean kirim",
    outbox_help: "Laporan disimpan di ponsel dan dikirim saat ada sinyal.", signout: "Keluar",
    online: "daring", offline: "luring", pending: "menunggu sinyal", sending: "mengirim…",
    accepted: "diterima", refused: "ditolak", no_location: "Pilih lokasi dulu (GPS atau ketuk peta).",
    gps_failed: "Lokasi ponsel tidak tersedia", bad_token: "Token tidak dikenal atau dicabut.",
    offline_signin: "Tidak ada sinyal: token akan diperiksa saat daring.", device: "Perangkat",
    team: "Tim", record: "catatan", accuracy: "akurasi", agency: "Instansi",
    share: "Dibagikan kepada", share_timpora: "Seluruh Timpora", share_agencies: "Instansi terpilih",
    share_agency: "Hanya instansi kami", need_agencies: "Pilih minimal satu instansi.",
    share_help: "Instansi kami selalu melihat laporannya. Berbagi bisa diperluas nanti, tidak bisa dipersempit.",
    labels: {
      patrol: "Patroli", lodging: "Laporan penginapan", checkpoint: "Pos pemeriksaan",
      public_report: "Laporan masyarakat", other: "Lainnya", overstay: "Melebihi izin tinggal",
      illegal_work: "Bekerja tanpa izin", illegal_entry: "Masuk ilegal / jalan tikus",
      permit_misuse: "Penyalahgunaan izin", document_fraud: "Pemalsuan dokumen",
      smuggling: "Penyelundupan", human_trafficking: "TPPO", social_unrest: "Gangguan sosial",
    },
  },
  en: {
    title: "Field report", signin: "Sign in with the device token",
    signin_help: "An administrator issues the token for this phone.", signin_button: "Sign in",
    what: "Report type", sighting: "Foreigner sighting", incident: "Incident",
    source: "Source", incident_kind: "Incident kind", severity: "Severity (1–5)", time: "Time",
    where: "Location", use_gps: "Use the phone's location", tap_help: "Or tap the map to pick a point.",
    note: "Note", photo: "Photo (optional)", save: "Save", outbox: "Outbox",
    outbox_help: "Reports are kept on the phone and sent when there is signal.", signout: "Sign out",
    online: "online", offline: "offline", pending: "waiting for signal", sending: "sending…",
    accepted: "accepted", refused: "refused", no_location: "Pick a location first (GPS or tap the map).",
    gps_failed: "The phone's location is not available", bad_token: "Unknown or revoked token.",
    offline_signin: "No signal: the token is checked when online.", device: "Device",
    team: "Team", record: "record", accuracy: "accuracy", agency: "Agency",
    share: "Shared with", share_timpora: "The whole Timpora", share_agencies: "Chosen agencies",
    share_agency: "Our agency only", need_agencies: "Choose at least one agency.",
    share_help: "Our agency always sees its reports. Sharing can be widened later, never narrowed.",
    labels: {
      patrol: "Patrol", lodging: "Lodging report", checkpoint: "Checkpoint",
      public_report: "Public report", other: "Other", overstay: "Overstay",
      illegal_work: "Illegal work", illegal_entry: "Illegal entry", permit_misuse: "Permit misuse",
      document_fraud: "Document fraud", smuggling: "Smuggling", human_trafficking: "Human trafficking",
      social_unrest: "Social unrest",
    },
  },
};

const state = {
  lang: localStorage.getItem(LANG_KEY) || "id", context: null, point: null, who: null, sending: false,
};
const $ = (id) => document.getElementById(id);
const tr = (key) => I18N[state.lang][key] ?? I18N.id[key] ?? key;
const label = (code) => I18N[state.lang].labels[code] ?? code;

// --- IndexedDB outbox ---------------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("timpora-field", 1);
    request.onupgradeneeded = () => request.result.createObjectStore("outbox", { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function outbox(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("outbox", mode);
    const result = fn(tx.objectStore("outbox"));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
}

const allEntries = () => outbox("readonly", (store) => store.getAll());
const putEntry = (entry) => outbox("readwrite", (store) => store.put(entry));

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// --- sending ------------------------------------------------------------------------------

async function sendEntry(entry) {
  const token = localStorage.getItem(TOKEN_KEY);
  let response;
  try {
    response = await fetch("/field/api/reports", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${token}`,
        "Idempotency-Key": entry.key,
      },
      body: JSON.stringify(entry.body),
    });
  } catch (error) {
    return; // no signal: stays pending
  }
  let payload = {};
  try { payload = await response.json(); } catch (error) { payload = {}; }
  if (response.status === 200 || response.status === 201) {
    entry.status = "accepted";
    entry.result = { layer: payload.layer, id: payload.id };
    entry.reason = "";
  } else if (response.status === 401) {
    entry.reason = tr("bad_token"); // stays pending until a valid token is entered
  } else if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
    entry.status = "refused";
    entry.reason = String(payload.detail || response.statusText || response.status);
  } else {
    return; // the server is busy or restarting: try again later
  }
  await putEntry(entry);
}

async function sendAll() {
  if (state.sending || !navigator.onLine || !localStorage.getItem(TOKEN_KEY)) return;
  state.sending = true;
  try {
    const entries = (await allEntries()).filter((e) => e.status === "pending");
    entries.sort((a, b) => a.created_at.localeCompare(b.created_at));
    for (const entry of entries) await sendEntry(entry);
  } finally {
    state.sending = false;
    await renderOutbox();
  }
}

// --- the map: the regency's outline, tap to place a point ---------------------------------

function projector(bbox) {
  const [minx, miny, maxx, maxy] = bbox;
  const k = Math.cos(((miny + maxy) / 2) * Math.PI / 180);
  const w = (maxx - minx) * k;
  const h = maxy - miny;
  const scale = 100 / Math.max(w, h);
  return {
    width: w * scale,
    height: h * scale,
    xy: ([lon, lat]) => [(lon - minx) * k * scale, (maxy - lat) * scale],
    lonlat: (x, y) => [minx + x / (k * scale), maxy - y / scale],
  };
}

function drawMap() {
  const svg = $("map");
  const ctx = state.context;
  if (!ctx) return;
  const proj = projector(ctx.bbox);
  state.proj = proj;
  svg.setAttribute("viewBox", `0 0 ${proj.width.toFixed(2)} ${proj.height.toFixed(2)}`);
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  for (const feature of ctx.outline.features) {
    const g = feature.geometry;
    const polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
    let d = "";
    for (const polygon of polygons) {
      for (const ring of polygon) {
        d += ring.map((c, i) => `${i ? "L" : "M"}${proj.xy(c).map((v) => v.toFixed(2)).join(",")}`).join("") + "Z";
      }
    }
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    const title = document.createElementNS(ns, "title");
    title.textContent = feature.properties.name;
    path.appendChild(title);
    svg.appendChild(path);
  }
  drawPoint();
}

function drawPoint() {
  const svg = $("map");
  svg.querySelector("circle")?.remove();
  if (!state.point || !state.proj) return;
  const [x, y] = state.proj.xy([state.point.lon, state.point.lat]);
  const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  dot.setAttribute("cx", x.toFixed(2));
  dot.setAttribute("cy", y.toFixed(2));
  dot.setAttribute("r", "1.2");
  svg.appendChild(dot);
}

function setPoint(lon, lat, accuracy) {
  state.point = { lon: Number(lon.toFixed(6)), lat: Number(lat.toFixed(6)), accuracy };
  const acc = accuracy ? ` (${tr("accuracy")} ${Math.round(accuracy)} m)` : "";
  $("position").textContent = `${state.point.lat}, ${state.point.lon}${acc}`;
  drawPoint();
}

function onMapTap(event) {
  if (!state.proj) return;
  const svg = $("map");
  const point = svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const local = point.matrixTransform(svg.getScreenCTM().inverse());
  const [lon, lat] = state.proj.lonlat(local.x, local.y);
  setPoint(lon, lat, null);
}

function locate() {
  $("form-error").textContent = "";
  if (!navigator.geolocation) {
    $("form-error").textContent = tr("gps_failed");
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (p) => setPoint(p.coords.longitude, p.coords.latitude, p.coords.accuracy),
    (error) => { $("form-error").textContent = `${tr("gps_failed")}: ${error.message}`; },
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
  );
}

// --- the form -----------------------------------------------------------------------------

function localNow() {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

function fillSelect(select, codes, labelOf) {
  const current = select.value;
  select.replaceChildren(...codes.map((code) => {
    const option = document.createElement("option");
    option.value = String(code);
    option.textContent = labelOf(code);
    return option;
  }));
  if (current) select.value = current;
}

function photoDataUrl(file) {
  // Drawn onto a canvas and re-encoded: smaller, and without the photo's EXIF (GPS included).
  return new Promise((resolve, reject) => {
    const image = new Image();
    const url = URL.createObjectURL(file);
    image.onload = () => {
      const scale = Math.min(1, PHOTO_MAX_PX / Math.max(image.width, image.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(image.width * scale);
      canvas.height = Math.round(image.height * scale);
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      resolve(canvas.toDataURL("image/jpeg", 0.8));
    };
    image.onerror = () => { URL.revokeObjectURL(url); reject(new Error("photo")); };
    image.src = url;
  });
}

async function onSave(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  if (!state.point) {
    $("form-error").textContent = tr("no_location");
    return;
  }
  const kind = document.querySelector("input[name=kind]:checked").value;
  const when = new Date($("when").value).toISOString();
  const note = $("note").value.trim();
  const properties = kind === "sighting"
    ? { observed_at: when, source: $("source").value, note: note || undefined }
    : {
      occurred_at: when, kind: $("incident-kind").value, severity: Number($("severity").value),
      description: note || undefined,
    };
  const sharing = document.querySelector("input[name=sharing]:checked").value;
  if (sharing !== "timpora") {
    properties.sharing = sharing;
    if (sharing === "agencies") {
      properties.shared_with = [...document.querySelectorAll("#share-agencies input:checked")].map((box) => box.value);
      if (!properties.shared_with.length) {
        $("form-error").textContent = tr("need_agencies");
        return;
      }
    }
  }
  const body = { kind, geometry: { type: "Point", coordinates: [state.point.lon, state.point.lat] }, properties };
  const file = $("photo").files[0];
  if (file) body.photo = await photoDataUrl(file);
  await putEntry({ key: uuid(), created_at: new Date().toISOString(), status: "pending", reason: "", body });
  $("note").value = "";
  $("photo").value = "";
  $("when").value = localNow();
  await renderOutbox();
  sendAll();
}

async function renderOutbox() {
  const entries = (await allEntries()).sort((a, b) => b.created_at.localeCompare(a.created_at));
  $("outbox").replaceChildren(...entries.map((entry) => {
    const li = document.createElement("li");
    li.dataset.status = entry.status;
    li.dataset.key = entry.key;
    const props = entry.body.properties;
    const what = entry.body.kind === "sighting" ? tr("sighting") : `${tr("incident")}: ${label(props.kind)}`;
    const when = new Date(props.observed_at || props.occurred_at).toLocaleString(state.lang === "id" ? "id-ID" : "en-GB");
    const head = document.createElement("strong");
    head.textContent = `${what} — ${when}`;
    const status = document.createElement("span");
    status.className = "status";
    let text = ` · ${tr(entry.status)}`;
    if (entry.status === "accepted" && entry.result) text += ` (${tr("record")} #${entry.result.id})`;
    if (props.sharing === "agency") text += ` · ${tr("share_agency")}`;
    else if (props.sharing === "agencies") text += ` · ${(props.shared_with || []).join(", ")}`;
    status.textContent = text;
    li.append(head, status);
    if (entry.reason) {
      const reason = document.createElement("span");
      reason.className = "reason";
      reason.textContent = entry.reason;
      li.appendChild(reason);
    }
    return li;
  }));
}

// The agencies a report may be shared with (from the cached context), the device's own left out
// (it always sees its reports); ticks survive a redraw.
function fillAgencies() {
  const box = $("share-agencies");
  const ticked = new Set([...box.querySelectorAll("input:checked")].map((input) => input.value));
  const own = state.who && state.who.agency;
  const agencies = ((state.context && state.context.agencies) || []).filter((a) => a.short_name !== own);
  box.replaceChildren(...agencies.map((agency) => {
    const label_ = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "shared_with";
    input.value = agency.short_name;
    input.checked = ticked.has(agency.short_name);
    const text = document.createElement("span");
    text.textContent = ` ${agency.short_name} — ${agency.name}`;
    label_.append(input, text);
    return label_;
  }));
  box.hidden = document.querySelector("input[name=sharing]:checked").value !== "agencies";
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = tr(node.dataset.i18n);
  $("lang").textContent = state.lang === "id" ? "EN" : "ID";
  if (state.context) {
    fillSelect($("source"), state.context.sighting_sources, label);
    fillSelect($("incident-kind"), state.context.incident_kinds, label);
    fillSelect($("severity"), state.context.severities, String);
    fillAgencies();
  }
  showNetwork();
  renderWho();
  if (state.point) setPoint(state.point.lon, state.point.lat, state.point.accuracy);
  renderOutbox();
}

function renderWho() {
  // Online and not yet answered: say nothing rather than "no signal".
  if (state.who) {
    const agency = state.who.agency ? ` · ${tr("agency")}: ${state.who.agency}` : "";
    $("who").textContent = `${tr("device")}: ${state.who.device} · ${tr("team")}: ${state.who.team}${agency}`;
  }
  else $("who").textContent = navigator.onLine ? "" : tr("offline_signin");
}

function showNetwork() {
  const online = navigator.onLine;
  $("net").dataset.state = online ? "online" : "offline";
  $("net").textContent = tr(online ? "online" : "offline");
}

async function loadContext() {
  try {
    const response = await fetch("/field/api/context");
    if (response.ok) state.context = await response.json();
  } catch (error) {
    state.context = null; // first open with no signal and nothing cached: the map stays empty
  }
  applyLanguage();
  drawMap();
}

async function checkToken(token) {
  if (!navigator.onLine) return { ok: true, offline: true };
  try {
    const response = await fetch("/field/api/whoami", { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401) return { ok: false };
    if (!response.ok) return { ok: true, offline: true };
    return { ok: true, who: await response.json() };
  } catch (error) {
    return { ok: true, offline: true };
  }
}

async function showApp() {
  const token = localStorage.getItem(TOKEN_KEY);
  $("signin").hidden = Boolean(token);
  $("app").hidden = !token;
  if (!token) return;
  const check = await checkToken(token);
  if (!check.ok) {
    localStorage.removeItem(TOKEN_KEY);
    $("signin-error").textContent = tr("bad_token");
    $("signin").hidden = false;
    $("app").hidden = true;
    return;
  }
  state.who = check.who || state.who || null;
  renderWho();
  fillAgencies();
  sendAll();
}

async function onSignin(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  const check = await checkToken(token);
  if (!check.ok) {
    $("signin-error").textContent = tr("bad_token");
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  $("signin-error").textContent = "";
  showApp();
}

function init() {
  $("when").value = localNow();
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "id" ? "en" : "id";
    localStorage.setItem(LANG_KEY, state.lang);
    applyLanguage();
  });
  for (const radio of document.querySelectorAll("input[name=kind]")) {
    radio.addEventListener("change", () => {
      const incident = document.querySelector("input[name=kind]:checked").value === "incident";
      $("incident-rows").hidden = !incident;
      $("source-row").hidden = incident;
    });
  }
  for (const radio of document.querySelectorAll("input[name=sharing]")) {
    radio.addEventListener("change", fillAgencies);
  }
  $("locate").addEventListener("click", locate);
  $("map").addEventListener("click", onMapTap);
  $("report").addEventListener("submit", onSave);
  $("signin-form").addEventListener("submit", onSignin);
  $("signout").addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); showApp(); });
  window.addEventListener("online", () => { showNetwork(); showApp(); });
  window.addEventListener("offline", showNetwork);
  setInterval(sendAll, 30000);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" });
  loadContext();
  showApp();
}

document.addEventListener("DOMContentLoaded", init);
