// The service worker (served at /sw.js by inspections.field.views.worker_script, which puts
// the FIELD settings above this line). It does three things:
// - static files: from the cache when there (their names carry a hash: they never change);
// - pages: from the network; without one, the copy downloaded to the phone ("field-pages":
//   the field page, the scan page, the tickets to finish in the field), and for a QR label's
//   /s/<token> the offline scan page, which fills in the site from the downloaded pack;
// - Background Sync: sends the queue of field records when the network is back, also with the
//   app closed (field_store.js does the sending, as the pages do).
/* global FIELD, FieldStore */
"use strict";
importScripts(FIELD.store);

var STATIC = "field-static-" + FIELD.version;
var PAGES = "field-pages";

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("field-static-") === 0 && name !== STATIC;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function fromCache(request) {
  return caches.match(request, { ignoreSearch: false }).then(function (hit) {
    if (hit) return hit;
    return fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(STATIC).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

// caches.match with a cacheName, not caches.open: opening would create the cache again after
// a logout deleted it.
function downloaded(path) {
  return caches.match(path, { cacheName: PAGES });
}

function offlinePage(url) {
  return downloaded(url.pathname).then(function (hit) {
    if (hit) return hit;
    if (url.pathname.indexOf(FIELD.scan_prefix) === 0) return downloaded(FIELD.shell);
    return downloaded(FIELD.home);
  }).then(function (hit) {
    return hit || new Response(
      "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
      "<p>" + FIELD.offline + "</p>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
  });
}

function page(request) {
  var url = new URL(request.url);
  return fetch(request).then(function (response) {
    // A downloaded page seen online again: keep the fresher copy.
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      downloaded(url.pathname).then(function (hit) {
        if (hit) return caches.open(PAGES).then(function (cache) { return cache.put(url.pathname, copy); });
      });
    }
    return response;
  }, function () { return offlinePage(url); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(FIELD.static_prefix) === 0) {
    event.respondWith(fromCache(request));
  } else if (request.mode === "navigate") {
    event.respondWith(page(request));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "field-queue") {
    event.waitUntil(FieldStore.flush({ base: self.registration.scope.replace(self.location.origin, "") }));
  }
});
