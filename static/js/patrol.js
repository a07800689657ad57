// The patrol form on a phone: the GPS position goes into hidden fields (with its accuracy and
// the fix's time) and the page says how far the site is before the inspector sends anything;
// photos taken one by one with the camera accumulate (an <input capture> holds one shot on
// most phones, so each shot keeps its own input and a fresh one is offered for the next).
(function () {
  "use strict";
  var form = document.querySelector("form.patrol-form");
  if (!form) return;
  var status = form.querySelector(".gps-status");
  var field = function (name) { return form.querySelector("input[name=" + name + "]"); };
  var limit = parseFloat(form.dataset.limit);
  // Read when a fix comes in: on the offline scan page the site is filled in from the phone's
  // downloaded pack after this script has started.
  function site() {
    return { lat: parseFloat(form.dataset.siteLat), lng: parseFloat(form.dataset.siteLng) };
  }

  function metres(lat1, lng1, lat2, lng2) {  // haversine, as the server computes it
    var r = 6371008.8, rad = Math.PI / 180;
    var dLat = (lat2 - lat1) * rad, dLng = (lng2 - lng1) * rad;
    var a = Math.pow(Math.sin(dLat / 2), 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.pow(Math.sin(dLng / 2), 2);
    return 2 * r * Math.asin(Math.sqrt(a));
  }

  function show(text, bad) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(bad));
  }

  function located(position) {
    var c = position.coords;
    field("lat").value = c.latitude.toFixed(7);
    field("lng").value = c.longitude.toFixed(7);
    field("accuracy").value = Math.round(c.accuracy);
    // When the fix was taken: a patrol kept on the phone without network is sent later, and
    // the server judges it at the time it was observed.
    if (field("observed_at")) field("observed_at").value = new Date(position.timestamp || Date.now()).toISOString();
    var here = site();
    if (isNaN(here.lat) || isNaN(here.lng)) {
      show(status.dataset.located.replace("{accuracy}", Math.round(c.accuracy)), false);
      return;
    }
    var d = metres(here.lat, here.lng, c.latitude, c.longitude);
    var distance = d >= 1000
      ? status.dataset.kilometres.replace("{km}", (d / 1000).toFixed(1))
      : status.dataset.metres.replace("{m}", Math.round(d));
    var text = status.dataset.found
      .replace("{distance}", distance).replace("{accuracy}", Math.round(c.accuracy));
    var far = d > limit + Math.min(c.accuracy, limit);
    show(far ? text + " " + status.dataset.far : text, far);
  }

  if (!navigator.geolocation) {
    show(status.dataset.unsupported, true);
  } else {
    show(status.dataset.waiting, false);
    var watch = navigator.geolocation.watchPosition(located, function () {
      if (!field("lat").value) show(status.dataset.denied, true);
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    form.addEventListener("submit", function () { navigator.geolocation.clearWatch(watch); });
  }

  // Photos: one input per shot; the first input is the form's own.
  var previews = form.querySelector(".photo-previews");
  var first = form.querySelector("input[type=file][name=photos]");
  var max = parseInt(previews.dataset.max, 10);
  if (!first || !window.URL) return;
  function count() { return previews.querySelectorAll("figure").length; }
  function watchInput(input) {
    input.addEventListener("change", function () {
      if (!input.files || !input.files.length) return;
      var figure = document.createElement("figure");
      Array.prototype.forEach.call(input.files, function (file) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = file.name;
        figure.appendChild(img);
      });
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "linklike";
      remove.textContent = previews.dataset.remove;
      remove.addEventListener("click", function () {
        input.remove();
        figure.remove();
        offer();
      });
      figure.appendChild(remove);
      previews.appendChild(figure);
      input.hidden = true;
      offer();
    });
  }
  function offer() {
    var empty = Array.prototype.filter.call(
      form.querySelectorAll("input[type=file][name=photos]"),
      function (input) { return !input.files || !input.files.length; });
    if (empty.length || count() >= max) return;
    var next = first.cloneNode();
    next.value = "";
    next.hidden = false;
    next.removeAttribute("id");
    next.setAttribute("aria-label", previews.dataset.more);
    previews.parentNode.insertBefore(next, previews.nextSibling);
    watchInput(next);
  }
  watchInput(first);
})();
