// The scan page as the service worker serves it without network (/field/scan/ in place of
// /s/<token>): the site comes from the pack downloaded to the phone, the form posts to the
// scanned label's URL, and each patrol gets its own submission key (the page itself is cached).
(function () {
  "use strict";
  var form = document.querySelector("form.patrol-form");
  var card = document.querySelector(".offline-site");
  if (!form || !card) return;
  var match = /\/s\/([^/?#]+)$/.exec(location.pathname);
  if (!match) {
    form.hidden = true;
    card.querySelector(".site-name").textContent = card.dataset.unknown;
    return;
  }
  var token = decodeURIComponent(match[1]);
  form.setAttribute("action", location.pathname);
  var key = form.querySelector("input[name=key]");
  if (key) key.defaultValue = key.value = uuid(); // defaultValue: field_queue.js keeps it

  function uuid() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function text(selector, value) {
    var element = card.querySelector(selector);
    if (element) element.textContent = value || "";
  }

  function fill(site) {
    if (!site) {
      text(".site-name", card.dataset.unknown);
      return;
    }
    document.title = site.name;
    text(".site-name", site.name);
    text(".site-code", site.code);
    text(".site-place", site.place);
    text(".site-state", site.state);
    form.dataset.siteLat = String(site.lat);
    form.dataset.siteLng = String(site.lng);
    form.dataset.title = site.name;
    var tickets = card.querySelector(".site-tickets");
    var list = tickets.querySelector("ul");
    (site.tickets || []).forEach(function (ticket) {
      var li = document.createElement("li");
      li.textContent = ticket.number + " · " + ticket.state + " · " + ticket.description +
        (ticket.deadline ? " · " + ticket.deadline : "");
      list.appendChild(li);
    });
    tickets.hidden = !(site.tickets || []).length;
  }

  // field_store.js loads after this page's own scripts.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.FieldStore) return fill(null);
    window.FieldStore.get("sites", token).then(fill, function () { fill(null); });
  });
})();
