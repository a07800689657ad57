// The field page: the phone's queue (each record with its state, 重发 and 删除) and the day's
// download — the sites the user may patrol go into the phone's database for the offline scan
// page, and the pages and files it needs (the field page, the scan page, the pages of the
// tickets to finish in the field) into the service worker's cache.
document.addEventListener("DOMContentLoaded", function () { // after field_store.js, field_queue.js
  "use strict";
  var Store = window.FieldStore;
  var Queue = window.FieldQueue;
  var user = document.body.dataset.user;
  var list = document.querySelector(".queue-items");
  if (!Store || !Queue || !list) return;
  var strings = document.querySelector(".field-queue-card").dataset;
  var status = document.querySelector(".pack-status");
  var sendButton = document.querySelector(".queue-send");

  function when(iso) {
    var date = new Date(iso);
    if (isNaN(date)) return "";
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function named(prefix, value) { // data-status-waiting → dataset.statusWaiting
    return prefix + value.charAt(0).toUpperCase() + value.slice(1);
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render() {
    return Store.all("queue").then(function (items) {
      items.sort(function (a, b) { return a.recorded_at < b.recorded_at ? 1 : -1; });
      list.innerHTML = "";
      var open = 0;
      items.forEach(function (item) {
        var mine = item.user === user;
        if (item.status !== "done") open += 1;
        var li = element("li", "queue-item");
        li.dataset.id = item.id;
        li.dataset.status = mine ? item.status : "other";
        var title = element("p", "", "");
        title.appendChild(element("strong", "", item.title));
        title.appendChild(document.createTextNode(" · " + strings[named("kind", item.kind)] + " · " +
          Queue.say(strings.recorded, { time: when(item.recorded_at) })));
        li.appendChild(title);
        var state = element("p", "queue-state");
        var label = mine ? strings[named("status", item.status)] : strings.other;
        state.appendChild(element("span", "badge" + (item.status === "done" ? " result-normal" : " overdue"), label));
        if (item.files && item.files.length) {
          state.appendChild(document.createTextNode(" " + Queue.say(strings.photos, { n: item.files.length })));
        }
        if (item.status === "done" && item.result && item.result.url) {
          state.appendChild(document.createTextNode(" "));
          var link = element("a", "", strings.open);
          link.href = item.result.url;
          state.appendChild(link);
        }
        li.appendChild(state);
        var errors = item.status === "refused" ? item.errors || [] : item.error ? [item.error] : [];
        if (errors.length) {
          var ul = element("ul", "errors");
          errors.forEach(function (error) { ul.appendChild(element("li", "error", error)); });
          li.appendChild(ul);
        }
        if (item.result && item.result.messages && item.status === "done") {
          li.appendChild(element("p", "muted", item.result.messages.join(" ")));
        }
        var actions = element("p", "queue-actions");
        if (mine && item.status !== "done") {
          var again = element("button", "button small", strings.resend);
          again.type = "button";
          again.addEventListener("click", function () { Queue.flush(true).then(render); });
          actions.appendChild(again);
          if (item.status === "refused" && item.page) {
            var fix = element("a", "button small", strings.fix);
            fix.href = item.page;
            actions.appendChild(fix);
          }
        }
        var drop = element("button", "button small danger", item.status === "done" ? strings.clear : strings.remove);
        drop.type = "button";
        drop.addEventListener("click", function () {
          if (item.status !== "done" && !window.confirm(strings.confirmRemove)) return;
          Store.remove("queue", item.id).then(function () { Queue.refresh(); render(); });
        });
        actions.appendChild(drop);
        li.appendChild(actions);
        list.appendChild(li);
      });
      document.querySelector(".queue-empty").hidden = open > 0;
      sendButton.hidden = open === 0;
    });
  }

  sendButton.addEventListener("click", function () { Queue.flush(true).then(render); });
  document.addEventListener("fieldqueue:changed", render);

  // --- the day's download ---------------------------------------------------------------------

  var download = document.querySelector(".pack-download");
  var sitesList = document.querySelector(".pack-sites");
  var jobsList = document.querySelector(".pack-jobs");

  function showPack(pack) {
    if (!pack) {
      status.textContent = status.dataset.never;
      return;
    }
    status.textContent = Queue.say(status.dataset.done, {
      time: when(pack.made_at), sites: pack.sites, jobs: (pack.jobs || []).length,
    });
    jobsList.innerHTML = "";
    (pack.jobs || []).forEach(function (job) {
      var li = element("li");
      var link = element("a", "code", job.number);
      link.href = job.url;
      li.appendChild(link);
      li.appendChild(document.createTextNode(" " + job.action + " · " + job.state + " · " + job.description));
      jobsList.appendChild(li);
    });
    Store.all("sites").then(function (sites) {
      sitesList.innerHTML = "";
      sites.forEach(function (site) {
        var li = element("li");
        var link = element("a", "", site.name);
        link.href = site.url;
        li.appendChild(link);
        li.appendChild(document.createTextNode(" · " + site.place + " · "));
        li.appendChild(element("span", site.patrolled ? "badge result-normal" : "badge",
          site.patrolled ? sitesList.dataset.patrolled : sitesList.dataset.due));
        sitesList.appendChild(li);
      });
    });
  }

  function keep(urls) {
    if (!window.caches) return Promise.resolve(false);
    return window.caches.open("field-pages").then(function (cache) {
      return Promise.all(urls.map(function (url) {
        return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
          if (response.ok && !response.redirected) return cache.put(url, response);
        });
      }));
    }).then(function () { return true; });
  }

  download.addEventListener("click", function () {
    download.disabled = true;
    status.textContent = status.dataset.busy;
    fetch(download.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error("pack " + response.status);
        return response.json();
      })
      .then(function (pack) {
        var summary = { name: "pack", user: pack.user, made_at: pack.made_at, sites: pack.sites.length, jobs: pack.jobs };
        return Store.replaceAll("sites", pack.sites)
          .then(function () { return Store.put("meta", summary); })
          .then(function () { return keep(pack.pages.concat(pack.assets)); })
          .then(function (kept) {
            showPack(summary);
            if (!kept) status.textContent += " " + status.dataset.unsupported;
            download.dataset.done = "1";
          });
      })
      .catch(function () { status.textContent = status.dataset.failed; })
      .then(function () { download.disabled = false; });
  });

  Store.get("meta", "pack").then(function (pack) {
    showPack(pack && pack.user === user ? pack : null);
  });
  render();
});

// This month's sites still to patrol, nearest first once the phone gives its position.
(function () {
  "use strict";
  var list = document.querySelector(".due-sites");
  if (!list || !navigator.geolocation || !list.children.length) return;
  function metres(lat1, lng1, lat2, lng2) {
    var r = 6371008.8, rad = Math.PI / 180;
    var a = Math.pow(Math.sin((lat2 - lat1) * rad / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin((lng2 - lng1) * rad / 2), 2);
    return 2 * r * Math.asin(Math.sqrt(a));
  }
  navigator.geolocation.getCurrentPosition(function (position) {
    var here = position.coords;
    var strings = document.getElementById("field-strings").dataset;
    var items = Array.prototype.slice.call(list.children).map(function (li) {
      var d = metres(here.latitude, here.longitude, parseFloat(li.dataset.lat), parseFloat(li.dataset.lng));
      li.querySelector(".distance").textContent = d >= 1000
        ? strings.kilometres.replace("{km}", (d / 1000).toFixed(1))
        : strings.metres.replace("{m}", Math.round(d));
      return { li: li, d: d };
    });
    items.sort(function (a, b) { return a.d - b.d; });
    items.forEach(function (item) { list.appendChild(item.li); });
    list.dataset.sorted = "nearest";
    var order = document.querySelector(".due-order");
    order.textContent = order.dataset.nearest;
  }, function () {}, { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 });
})();
