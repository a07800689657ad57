// Field forms that never lose what was typed or photographed (the patrol, a rectification
// submit, a toilet job's completion: forms marked data-queue).
//
// - While the form is filled in, what was typed and the chosen photos are kept on the phone
//   (IndexedDB "drafts") and put back after a reload or a back navigation.
// - On 提交 the photos are shrunk on the phone (photo_shrink.js, EXIF kept), and the record —
//   fields, photos, submission key, the time it was recorded — goes into the phone's queue
//   first, then up with a progress figure. Without network, or when the upload breaks, it
//   stays queued ("未发送，网络恢复后点此重发") and is sent when the network is back: by the
//   service worker's Background Sync where the browser has it, else on the next `online` event
//   or page open, retried with growing pauses. The header shows how many records wait.
// - Without IndexedDB (very old browsers) nothing here runs and the forms post as before.
(function () {
  "use strict";
  var Store = window.FieldStore;
  var user = document.body.dataset.user;
  var stringsElement = document.getElementById("field-strings");
  if (!Store || !window.indexedDB || !user || !stringsElement) return;
  var strings = stringsElement.dataset;
  var badge = document.querySelector(".field-queue-badge");
  var retryTimer = null;

  function say(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (match, name) {
      return values && name in values ? values[name] : match;
    });
  }

  // --- the service worker, Background Sync --------------------------------------------------

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }

  function askSync() {
    if (!("serviceWorker" in navigator) || !navigator.serviceWorker.controller) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) return registration.sync.register("field-queue");
    }).catch(function () {});
  }

  // --- the count in the header --------------------------------------------------------------

  function pending(items) {
    return items.filter(function (item) { return item.user === user && item.status !== "done"; });
  }

  function refreshBadge() {
    if (!badge) return Promise.resolve();
    return Store.all("queue").then(function (items) {
      var count = pending(items).length;
      badge.hidden = count === 0;
      badge.textContent = say(badge.dataset.text, { n: count });
      badge.dataset.count = String(count);
      document.dispatchEvent(new CustomEvent("fieldqueue:changed"));
    }).catch(function () {});
  }

  // --- sending ------------------------------------------------------------------------------

  function xhrTransport(url, form, headers, progress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable && progress) {
          progress(Math.min(100, Math.floor((event.loaded * 100) / event.total)));
        }
      };
      xhr.onload = function () {
        var data = null;
        if ((xhr.getResponseHeader("Content-Type") || "").indexOf("application/json") === 0) {
          try { data = JSON.parse(xhr.responseText); } catch (error) { data = null; }
        }
        if (progress) progress(100);
        resolve({ status: xhr.status, data: data, url: xhr.responseURL });
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { reject(new Error("network")); };
      xhr.timeout = 600000;
      xhr.send(form);
    });
  }

  // Send what waits (in the background of whatever page is open).
  function flush(force) {
    if (navigator.onLine === false) return Promise.resolve([]);
    return Store.flush({ transport: xhrTransport, force: force, each: function (item) {
      showItem(item);
      refreshBadge();
    } }).then(function (sent) {
      refreshBadge();
      scheduleRetry();
      return sent;
    });
  }

  function scheduleRetry() {
    Store.all("queue").then(function (items) {
      var next = pending(items).filter(function (item) { return item.status === "waiting"; })
        .map(function (item) { return item.next_at || 0; })
        .sort()[0];
      if (next === undefined) return;
      window.clearTimeout(retryTimer);
      retryTimer = window.setTimeout(function () { flush(false); }, Math.max(1000, next - Date.now()));
    }).catch(function () {});
  }

  window.addEventListener("online", function () { flush(true); });
  window.FieldQueue = { flush: flush, refresh: refreshBadge, say: say, strings: strings };

  // --- the forms ----------------------------------------------------------------------------

  function draftKey(form) {
    return location.pathname + "|" + (form.getAttribute("action") || "") + "|" + (form.id || "");
  }

  function statusBox(form) {
    var box = document.createElement("div");
    box.className = "field-status";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    box.hidden = true;
    box.innerHTML = '<p class="field-status-text"></p><progress max="100" value="0" hidden></progress>' +
      '<ul class="field-status-errors"></ul>' +
      '<p><button type="button" class="button field-resend" hidden></button> ' +
      '<a class="field-queue-link" hidden></a></p>';
    box.querySelector(".field-resend").textContent = strings.resend;
    var link = box.querySelector(".field-queue-link");
    link.href = strings.queueUrl;
    link.textContent = strings.queueLink;
    form.parentNode.insertBefore(box, form.nextSibling);
    box.querySelector(".field-resend").addEventListener("click", function () {
      var id = box.dataset.item;
      if (!id) return;
      Store.get("queue", id).then(function (item) { if (item) sendNow(item, box); });
    });
    return box;
  }

  function show(box, state, text, extra) {
    extra = extra || {};
    box.hidden = false;
    box.dataset.state = state;
    box.querySelector(".field-status-text").textContent = text;
    var bar = box.querySelector("progress");
    bar.hidden = extra.progress === undefined;
    if (extra.progress !== undefined) bar.value = extra.progress;
    var list = box.querySelector(".field-status-errors");
    list.innerHTML = "";
    (extra.errors || []).forEach(function (error) {
      var li = document.createElement("li");
      li.textContent = error;
      list.appendChild(li);
    });
    box.querySelector(".field-resend").hidden = !extra.resend;
    box.querySelector(".field-queue-link").hidden = !extra.resend;
  }

  var boxes = {};

  function showItem(item) {
    var box = boxes[item.id];
    if (!box) return;
    if (item.status === "done") {
      show(box, "done", strings.recorded);
      if (item.result && item.result.url && box.dataset.open === "1") location.assign(item.result.url);
    } else if (item.status === "refused") {
      show(box, "refused", strings.refused, { errors: item.errors, resend: false });
    } else if (item.status === "login") {
      show(box, "login", strings.login, { resend: true });
    } else if (item.status === "waiting") {
      show(box, "waiting", strings.offline, { resend: true, errors: item.error ? [item.error] : [] });
    }
  }

  function collect(form) {
    var fields = [];
    var files = [];
    new FormData(form).forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken") return;
      if (typeof value === "string") fields.push([name, value]);
      else if (value && (value.size || value.name)) files.push({ field: name, name: value.name, blob: value });
    });
    return { fields: fields, files: files };
  }

  function shrinkAll(files, box) {
    var shrink = window.PhotoShrink ? window.PhotoShrink.shrink : function (file) { return Promise.resolve(file); };
    return files.reduce(function (chain, file, index) {
      return chain.then(function (done) {
        show(box, "shrinking", say(strings.shrinking, { i: index + 1, n: files.length }));
        var source = file.blob instanceof File ? file.blob : new File([file.blob], file.name, { type: file.blob.type });
        return shrink(source).then(function (small) {
          return done.concat([{ field: file.field, name: small.name || file.name, blob: small }]);
        });
      });
    }, Promise.resolve([]));
  }

  function enqueue(form, box) {
    var key = form.querySelector("input[name=key]");
    if (key && !key.value) key.value = Store.uuid();
    var observed = form.querySelector("input[name=observed_at]");
    if (observed && !observed.value) observed.value = new Date().toISOString();
    var data = collect(form);
    return shrinkAll(data.files, box).then(function (files) {
      var item = {
        id: key ? key.value : Store.uuid(),
        user: user,
        kind: form.dataset.queue,
        title: form.dataset.title || document.title,
        url: new URL(form.getAttribute("action") || location.pathname, location.href).pathname,
        page: location.pathname,
        fields: data.fields,
        files: files,
        recorded_at: observed && observed.value ? observed.value : new Date().toISOString(),
        queued_at: new Date().toISOString(),
        status: "waiting",
        attempts: 0,
      };
      return Store.put("queue", item).then(function () {
        return Store.remove("drafts", draftKey(form));
      }).then(function () { refreshBadge(); return item; });
    });
  }

  function sendNow(item, box) {
    box.dataset.item = item.id;
    box.dataset.open = "1";
    if (navigator.onLine === false) {
      show(box, "waiting", strings.offline, { resend: true });
      askSync();
      return Promise.resolve(item);
    }
    show(box, "sending", say(strings.uploading, { pct: "0%" }), { progress: 0 });
    return Store.me("/").then(function (who) {
      if (!who.user) return Store.get("queue", item.id).then(function (stored) {
        stored.status = "login";
        return Store.put("queue", stored).then(function () { showItem(stored); return stored; });
      });
      return Store.claim(item.id, true).then(function (claimed) {
        if (!claimed) return item;
        var options = {
          transport: xhrTransport, csrf: who.csrf, open: true,
          progress: function (pct) {
            show(box, "sending", say(strings.uploading, { pct: pct + "%" }), { progress: pct });
            box.dataset.progress = String(pct);
          },
        };
        return Store.send(claimed, options);
      });
    }, function () {
      return Store.get("queue", item.id).then(function (stored) {
        return Store.put("queue", Store.settle(stored, { network: true })).then(function () { return stored; });
      });
    }).then(function (result) {
      showItem(result);
      refreshBadge();
      if (result.status === "waiting") { askSync(); scheduleRetry(); }
      return result;
    });
  }

  // What was typed and chosen, kept while the form is open.
  function saveDraft(form) {
    window.clearTimeout(form._draftTimer);
    form._draftTimer = window.setTimeout(function () {
      var data = collect(form);
      Store.put("drafts", {
        url: draftKey(form), fields: data.fields, files: data.files, saved_at: new Date().toISOString(),
      }).catch(function () {});
    }, 300);
  }

  function restoreDraft(form, box) {
    return Store.get("drafts", draftKey(form)).then(function (draft) {
      if (!draft) return;
      draft.fields.forEach(function (pair) {
        var name = pair[0], value = pair[1];
        if (name === "state" || name === "lat" || name === "lng" || name === "accuracy") return;
        form.querySelectorAll("[name='" + name + "']").forEach(function (input) {
          if (input.type === "radio" || input.type === "checkbox") {
            if (input.value === value) input.checked = true;
          } else if (input.type !== "file") {
            input.value = value;
          }
        });
      });
      restoreFiles(form, draft.files || []);
      show(box, "restored", strings.restored);
    }).catch(function () {});
  }

  function restoreFiles(form, files) {
    if (!files.length || typeof DataTransfer === "undefined") return;
    var byField = {};
    files.forEach(function (file) { (byField[file.field] = byField[file.field] || []).push(file); });
    Object.keys(byField).forEach(function (name) {
      var list = byField[name];
      var first = form.querySelector("input[type=file][name='" + name + "']");
      if (!first) return;
      var asFile = function (file) {
        return file.blob instanceof File ? file.blob : new File([file.blob], file.name, { type: file.blob.type });
      };
      if (first.multiple) {
        var transfer = new DataTransfer();
        list.forEach(function (file) { transfer.items.add(asFile(file)); });
        first.files = transfer.files;
        first.dispatchEvent(new Event("change", { bubbles: true }));
        return;
      }
      // One photo per input (patrol.js offers a fresh input after each shot).
      list.forEach(function (file) {
        var empty = Array.prototype.filter.call(
          form.querySelectorAll("input[type=file][name='" + name + "']"),
          function (input) { return !input.files || !input.files.length; })[0];
        if (!empty) return;
        var transfer = new DataTransfer();
        transfer.items.add(asFile(file));
        empty.files = transfer.files;
        empty.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  }

  function resetButton(form) {
    form.dataset.sent = "";
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      if (button.dataset.label) button.textContent = button.dataset.label;
      button.classList.remove("busy");
    });
  }

  function setup(form) {
    var box = statusBox(form);
    // A reload may bring back the hidden fields of the page before (browsers restore form
    // state): the submission key is the one this page came with, unless a draft says otherwise.
    var key = form.querySelector("input[name=key]");
    if (key && key.defaultValue) key.value = key.defaultValue;
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.dataset.label = button.textContent;
    });
    // A record of this page already queued (the page was reloaded, or reopened later).
    Store.all("queue").then(function (items) {
      var waiting = pending(items).filter(function (item) {
        return item.page === location.pathname && item.url === new URL(form.getAttribute("action") || location.pathname, location.href).pathname;
      })[0];
      if (waiting) {
        boxes[waiting.id] = box;
        box.dataset.item = waiting.id;
        showItem(waiting);
      } else {
        restoreDraft(form, box);
      }
    }).catch(function () {});
    form.addEventListener("input", function () { saveDraft(form); });
    form.addEventListener("change", function () { saveDraft(form); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.queueing === "1") return;
      form.dataset.queueing = "1";
      show(box, "saving", strings.saving);
      enqueue(form, box).then(function (item) {
        boxes[item.id] = box;
        return sendNow(item, box);
      }).catch(function () {
        // The phone's storage refused (full, private mode): post the form the old way.
        form.dataset.queueing = "";
        HTMLFormElement.prototype.submit.call(form);
      }).then(function () {
        form.dataset.queueing = "";
        resetButton(form);
      });
    });
  }

  document.querySelectorAll("form[data-queue]").forEach(setup);

  // Logging out on a shared phone: the downloaded sites and pages go; the queue stays (it is
  // sent only as its own user, after he logs in again).
  document.querySelectorAll("form[action$='/accounts/logout/']").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.cleared === "1") return;
      event.preventDefault();
      var clearing = [Store.replaceAll("sites", []), Store.remove("meta", "pack")];
      if (window.caches) clearing.push(window.caches.delete("field-pages"));
      Promise.all(clearing).catch(function () {}).then(function () {
        form.dataset.cleared = "1";
        HTMLFormElement.prototype.submit.call(form);
      });
    });
  });

  refreshBadge();
  flush(false);
})();
