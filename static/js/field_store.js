// The phone's store of field work, shared by the pages (field_queue.js) and the service worker
// (sw.js): an IndexedDB database with
//   queue  — records waiting to be sent (a patrol, a rectification submit, a job completion):
//            the form's fields, its photos as Blobs, its submission key (the record's id), the
//            user who made it, and the result of the last try;
//   drafts — what was typed and chosen in a form not sent yet, restored after a reload;
//   sites  — the day's downloaded sites, by QR token (the offline scan page reads them);
//   meta   — the pack's summary (when it was downloaded, its jobs).
// A record is sent only as the user who made it, with a CSRF token fetched just before (a
// login renews it); the server knows the submission key, so a resend after a lost answer gets
// "recorded already", never a second patrol.
(function (root) {
  "use strict";
  var NAME = "renju-field";
  var VERSION = 1;
  var STORES = ["queue", "drafts", "sites", "meta"];
  var KEYS = { queue: "id", drafts: "url", sites: "token", meta: "name" };
  var LEASE_MS = 120000; // a send in progress in another tab or the worker
  var RETRY_MS = [5000, 15000, 30000, 60000, 120000, 300000, 600000];
  var opening = null;

  function open() {
    if (!root.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    if (opening) return opening;
    opening = new Promise(function (resolve, reject) {
      var request = root.indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        STORES.forEach(function (name) {
          if (!db.objectStoreNames.contains(name)) {
            db.createObjectStore(name, { keyPath: KEYS[name] });
          }
        });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { opening = null; reject(request.error); };
    });
    return opening;
  }

  function run(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var result;
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
        work(tx.objectStore(store), function (value) { result = value; });
      });
    });
  }

  function all(store) {
    return run(store, "readonly", function (os, done) {
      var request = os.getAll();
      request.onsuccess = function () { done(request.result || []); };
    });
  }

  function get(store, key) {
    return run(store, "readonly", function (os, done) {
      var request = os.get(key);
      request.onsuccess = function () { done(request.result); };
    });
  }

  function put(store, value) {
    return run(store, "readwrite", function (os) { os.put(value); });
  }

  function remove(store, key) {
    return run(store, "readwrite", function (os) { os.delete(key); });
  }

  function replaceAll(store, values) {
    return run(store, "readwrite", function (os) {
      os.clear();
      values.forEach(function (value) { os.put(value); });
    });
  }

  // Take a record for sending unless another sender holds it: one transaction, so the page and
  // the service worker never send the same photos at once.
  function claim(id, force) {
    return run("queue", "readwrite", function (os, done) {
      var request = os.get(id);
      request.onsuccess = function () {
        var item = request.result;
        var now = Date.now();
        if (!item || item.status === "done") return done(null);
        if (item.status === "sending" && item.lease > now) return done(null);
        if (!force && item.next_at && item.next_at > now) return done(null);
        item.status = "sending";
        item.lease = now + LEASE_MS;
        item.progress = 0;
        os.put(item);
        done(item);
      };
    });
  }

  function me(base) {
    return fetch(base + "field/me.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Logged out: login_required's redirect to the login page.
        if (response.redirected || response.status === 401) return { user: null };
        if (!response.ok) throw new Error("me " + response.status);
        return response.json();
      });
  }

  function body(item, csrf) {
    var form = new FormData();
    item.fields.forEach(function (pair) { form.append(pair[0], pair[1]); });
    form.append("csrfmiddlewaretoken", csrf);
    item.files.forEach(function (file) { form.append(file.field, file.blob, file.name); });
    return form;
  }

  // The default transport (the service worker has no XMLHttpRequest): no upload progress.
  function fetchTransport(url, form, headers) {
    return fetch(url, {
      method: "POST", body: form, headers: headers, credentials: "same-origin",
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var json = type.indexOf("application/json") === 0 ? response.json() : Promise.resolve(null);
      return json.then(function (data) {
        return { status: response.status, data: data, url: response.url };
      });
    });
  }

  function settle(item, outcome) {
    item.lease = 0;
    item.tried_at = new Date().toISOString();
    if (outcome.network) {
      item.attempts = (item.attempts || 0) + 1;
      item.status = "waiting";
      item.error = "";
      item.next_at = Date.now() + RETRY_MS[Math.min(item.attempts - 1, RETRY_MS.length - 1)];
      return item;
    }
    var data = outcome.data;
    if (/\/accounts\/login\//.test(outcome.url || "") || outcome.status === 401) {
      item.status = "login";
    } else if (data && data.ok) {
      item.status = "done";
      item.result = data;
      item.done_at = new Date().toISOString();
      item.files = []; // the photos are on the server now; the phone's space is freed
    } else if (outcome.status >= 500 || outcome.status === 429 || outcome.status === 0) {
      // The server's trouble (a full disk, a restart): kept, tried again later.
      item.attempts = (item.attempts || 0) + 1;
      item.status = "waiting";
      item.error = data && data.errors ? data.errors.join(" ") : "HTTP " + outcome.status;
      item.next_at = Date.now() + RETRY_MS[Math.min(item.attempts - 1, RETRY_MS.length - 1)];
    } else {
      item.status = "refused";
      item.errors = data && data.errors ? data.errors : ["HTTP " + outcome.status];
      item.result = data || null;
    }
    return item;
  }

  // Send one claimed record; resolves with the record as stored afterwards.
  function send(item, options) {
    options = options || {};
    var transport = options.transport || fetchTransport;
    var headers = { Accept: "application/json", "X-CSRFToken": options.csrf };
    if (options.open) headers["X-Field-Then"] = "open";
    return transport(item.url, body(item, options.csrf), headers, options.progress)
      .then(function (outcome) { return settle(item, outcome); },
        function () { return settle(item, { network: true }); })
      .then(function (settled) { return put("queue", settled).then(function () { return settled; }); });
  }

  // Send every waiting record of the logged-in user, one at a time (a phone's uplink is the
  // bottleneck). `force`: also those whose retry time has not come (the user pressed 重发).
  function flush(options) {
    options = options || {};
    var base = options.base || "/";
    return me(base).then(function (who) {
      if (!who.user) return []; // logged out: the records wait for the login
      return all("queue").then(function (items) {
        var mine = items.filter(function (item) {
          return item.user === who.user && item.status !== "done" && item.status !== "refused";
        }).sort(function (a, b) { return a.recorded_at < b.recorded_at ? -1 : 1; });
        return mine.reduce(function (chain, item) {
          return chain.then(function (sent) {
            return claim(item.id, options.force).then(function (claimed) {
              if (!claimed) return sent;
              var sending = Object.assign({}, options, { csrf: who.csrf, open: false });
              return send(claimed, sending).then(function (done) {
                if (options.each) options.each(done);
                return sent.concat([done]);
              });
            });
          });
        }, Promise.resolve([]));
      });
    }, function () { return []; });
  }

  function uuid() {
    if (root.crypto && root.crypto.randomUUID) return root.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    root.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); });
    return hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" +
      hex.slice(6, 8).join("") + "-" + hex.slice(8, 10).join("") + "-" + hex.slice(10).join("");
  }

  root.FieldStore = {
    open: open, all: all, get: get, put: put, remove: remove, replaceAll: replaceAll,
    claim: claim, send: send, flush: flush, me: me, uuid: uuid, settle: settle,
  };
})(self);
