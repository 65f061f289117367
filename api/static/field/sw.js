// The field form's service worker: the shell, the outline and the vocabularies are cached so
// the form opens and records with no signal. Network first (updates arrive when there is
// signal), the cache when there is none. Reports are never cached: they wait in IndexedDB.
const CACHE = "timpora-field-v1";
const SHELL = [
  "/field/",
  "/field/app.js",
  "/field/app.css",
  "/field/manifest.webmanifest",
  "/field/icon.svg",
  "/field/api/context",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return response;
      })
      .catch(() => caches.match(url.pathname).then((hit) => hit || Response.error())),
  );
});
