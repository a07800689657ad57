/* The map of water sites: the county outline, the sites coloured by state (colours in
   css/sites.css, so the legend and the markers cannot disagree), filters by state and town.

   Everything is served by this site: Leaflet is vendored, and base tiles are drawn only when
   MAP_TILE_URL is set. Coordinates arrive ready to draw — WGS-84, or already shifted to GCJ-02
   by the server (?crs=gcj02, villages.geo) when the tiles are a Chinese provider's — so there is
   no second implementation of that transform here. */
(function () {
  "use strict";

  var FALLBACK_VIEW = { center: [35, 105], zoom: 4 }; // China, when there is nothing to fit

  function readJSON(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_match, key) {
      return String(values[key]);
    });
  }

  function popup(feature, config) {
    // Built from DOM nodes, not HTML strings: site names are user input.
    var p = feature.properties;
    var box = document.createElement("div");
    box.className = "site-popup";
    var name = document.createElement("strong");
    name.textContent = p.name;
    var facts = document.createElement("div");
    facts.textContent = [p.code, p.town, config.labels[p.state] || p.state].join(" · ");
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = config.openSite;
    box.append(name, facts, link);
    return box;
  }

  function marker(feature, config) {
    var coords = feature.geometry.coordinates; // GeoJSON order: [lng, lat]
    return L.circleMarker([coords[1], coords[0]], {
      radius: 7,
      weight: 1.5,
      className: "site-marker site-" + feature.properties.state,
    }).bindPopup(function () {
      return popup(feature, config);
    });
  }

  function start() {
    var config = readJSON("site-map-config");
    var outline = readJSON("county-outline");
    var status = document.getElementById("map-status");
    var townSelect = document.getElementById("map-town");
    var stateBoxes = document.querySelectorAll("#map-states input[name=state]");
    var container = document.getElementById("site-map");

    var map = L.map(container, { zoomSnap: 0.5 });
    if (config.tileUrl) {
      L.tileLayer(config.tileUrl, { maxZoom: 18, attribution: config.attribution }).addTo(map);
    }
    var outlineLayer = L.geoJSON(outline, {
      interactive: false,
      style: { className: "county-outline" },
    }).addTo(map);
    if (outline.features.length) {
      map.fitBounds(outlineLayer.getBounds(), { padding: [10, 10] });
    } else {
      map.setView(FALLBACK_VIEW.center, FALLBACK_VIEW.zoom);
    }

    var sites = L.featureGroup().addTo(map);
    var features = [];

    function shownStates() {
      var states = {};
      stateBoxes.forEach(function (box) {
        if (box.checked) states[box.value] = true;
      });
      return states;
    }

    function redraw() {
      var states = shownStates();
      var town = townSelect.value;
      var counts = {};
      var shown = 0;
      sites.clearLayers();
      features.forEach(function (feature) {
        var p = feature.properties;
        if (town && p.town_code !== town) return;
        counts[p.state] = (counts[p.state] || 0) + 1;
        if (!states[p.state]) return;
        sites.addLayer(marker(feature, config));
        shown += 1;
      });
      document.querySelectorAll("#map-states [data-count]").forEach(function (span) {
        span.textContent = "(" + (counts[span.dataset.count] || 0) + ")";
      });
      status.textContent = format(config.shown, { shown: shown, total: features.length });
    }

    function loaded(collection) {
      features = collection.features;
      redraw();
      if (!outline.features.length && sites.getLayers().length) {
        map.fitBounds(sites.getBounds(), { padding: [20, 20], maxZoom: 14 });
      }
    }

    stateBoxes.forEach(function (box) {
      box.addEventListener("change", redraw);
    });
    townSelect.addEventListener("change", redraw);
    status.textContent = config.loading;
    fetch(config.geojson, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(loaded)
      .catch(function () {
        status.textContent = config.failed;
      });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
