// Helpers shared by the dashboard's panels (loaded before them): a JSON request with the
// sign-in's token, an element whose text goes in through textContent, never as markup, and a
// WIB time of the API as the panels print it.
(function () {
  "use strict";

  var TOKEN_KEY = "timpora.token";

  // fetch with the Authorization header; resolves to the JSON body, or rejects with an Error
  // carrying the API's problem text (its detail or title) or the HTTP status.
  function requestJson(path, options) {
    options = options || {};
    var token = sessionStorage.getItem(TOKEN_KEY);
    options.headers = Object.assign({ Authorization: "Bearer " + token }, options.headers || {});
    return fetch(path, options).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) { throw new Error((body && (body.detail || body.title)) || String(r.status)); }
        return body;
      });
    });
  }

  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text != null) { e.textContent = String(text); }
    if (className) { e.className = className; }
    return e;
  }

  // "2026-10-18T15:59:28.123+07:00" → "2026-10-18 15:59" (the API sends WIB times).
  function wib(iso) {
    return iso ? String(iso).slice(0, 10) + " " + String(iso).slice(11, 16) : "";
  }

  window.TimporaDashboard = Object.freeze({ requestJson: requestJson, el: el, wib: wib });
})();
