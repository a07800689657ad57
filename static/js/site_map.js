/* The county map: the county outline, and one of three layers — the water sites coloured by
   state (filter by state), the villages coloured by their latest published grade, or by their
   open rectification tickets. Colours live in css/sites.css, so legends and markers cannot
   disagree; the town filter applies to every layer.

   Everything is served by this site: Leaflet is vendored, and base tiles are drawn only when
   MAP_TILE_URL is set. Coordinates arrive ready to draw — WGS-84, or already shifted to GCJ-02
   by the server (?crs=gcj02, villages.geo) when the tiles are a Chinese provider's — so there is
   no second implementation of that transform here. The villages are fetched the first time a
   village layer is chosen; their boundaries (heavy) only when asked for. */
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

  function getJSON(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json" },
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    });
  }

  function popupBox(p, facts, linkText) {
    // Built from DOM nodes, not HTML strings: names are user input.
    var box = document.createElement("div");
    box.className = "site-popup";
    var name = document.createElement("strong");
    name.textContent = p.name;
    var lines = facts.map(function (text) {
      var line = document.createElement("div");
      line.textContent = text;
      return line;
    });
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = linkText;
    box.append.apply(box, [name].concat(lines, [link]));
    return box;
  }

  function sitePopup(feature, config) {
    var p = feature.properties;
    var facts = [[p.code, p.town, config.labels[p.state] || p.state].join(" · ")];
    return popupBox(p, facts, config.openSite);
  }

  function villagePopup(feature, config) {
    var p = feature.properties;
    var grade = p.grade ? config.gradeLabels[p.grade] || p.grade : config.noGrade;
    var facts = [
      [p.code, p.town].join(" · "),
      grade,
      format(config.openTickets, { n: p.open_tickets }),
    ];
    return popupBox(p, facts, config.openVillage);
  }

  function ticketBand(count, config) {
    for (var i = 0; i < config.ticketBands.length; i += 1) {
      if (count >= config.ticketBands[i][1]) return config.ticketBands[i][0];
    }
    return config.ticketBands[config.ticketBands.length - 1][0];
  }

  // The class naming a feature's colour on a layer, and the key its legend counts it under.
  function classify(layer, p, config) {
    if (layer === "sites") return { css: "site-marker site-" + p.state, key: p.state };
    if (layer === "grade") {
      return { css: "village-marker village-grade-" + (p.grade || "none"), key: p.grade };
    }
    var band = ticketBand(p.open_tickets, config);
    return { css: "village-marker village-tickets-" + band, key: band };
  }

  function drawn(feature, css, popup) {
    var geometry = feature.geometry;
    var layer;
    if (geometry.type === "Point") {
      var coords = geometry.coordinates; // GeoJSON order: [lng, lat]
      layer = L.circleMarker([coords[1], coords[0]], { radius: 7, weight: 1.5, className: css });
    } else {
      layer = L.geoJSON(feature, { style: { className: css + " village-shape" } });
    }
    return layer.bindPopup(popup);
  }

  function start() {
    var config = readJSON("site-map-config");
    var outline = readJSON("county-outline");
    var status = document.getElementById("map-status");
    var townSelect = document.getElementById("map-town");
    var stateBoxes = document.querySelectorAll("#map-states input[name=state]");
    var layerRadios = document.querySelectorAll("#map-layers input[name=layer]");
    var shapeBox = document.getElementById("map-shapes");
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

    var markers = L.featureGroup().addTo(map);
    var data = { sites: null, villages: null, shapes: null };
    var loading = {};
    var fitted = !!outline.features.length;

    function currentLayer() {
      var chosen = "sites";
      layerRadios.forEach(function (radio) {
        if (radio.checked) chosen = radio.value;
      });
      return chosen;
    }

    function shownStates() {
      var states = {};
      stateBoxes.forEach(function (box) {
        if (box.checked) states[box.value] = true;
      });
      return states;
    }

    function villageKey() {
      return shapeBox && shapeBox.checked ? "shapes" : "villages";
    }

    function villageUrl(key) {
      return config.villageGeojson + (key === "shapes" ? "&shape=1" : "");
    }

    function showPanels(layer) {
      document.querySelectorAll("[data-layer]").forEach(function (element) {
        element.hidden = element.dataset.layer.split(" ").indexOf(layer) < 0;
      });
    }

    function load(key) {
      if (loading[key]) return;
      loading[key] = true;
      var sites = key === "sites";
      status.textContent = sites ? config.loading : config.loadingVillages;
      getJSON(sites ? config.geojson : villageUrl(key))
        .then(function (collection) {
          data[key] = collection.features;
          redraw();
        })
        .catch(function () {
          loading[key] = false;
          status.textContent = sites ? config.failed : config.failedVillages;
        });
    }

    function redraw() {
      var layer = currentLayer();
      showPanels(layer);
      var key = layer === "sites" ? "sites" : villageKey();
      var features = data[key];
      markers.clearLayers();
      if (features === null) {
        load(key);
        return;
      }
      var states = layer === "sites" ? shownStates() : null;
      var town = townSelect.value;
      var counts = {};
      var shown = 0;
      features.forEach(function (feature) {
        var p = feature.properties;
        if (town && p.town_code !== town) return;
        var kind = classify(layer, p, config);
        counts[kind.key] = (counts[kind.key] || 0) + 1;
        if (states && !states[p.state]) return;
        var popup = layer === "sites" ? sitePopup : villagePopup;
        markers.addLayer(
          drawn(feature, kind.css, function () {
            return popup(feature, config);
          })
        );
        shown += 1;
      });
      var legend = { sites: "#map-states", grade: "#map-grades", tickets: "#map-tickets" }[layer];
      document.querySelectorAll(legend + " [data-count]").forEach(function (span) {
        span.textContent = "(" + (counts[span.dataset.count] || 0) + ")";
      });
      var template = layer === "sites" ? config.shown : config.shownVillages;
      status.textContent = format(template, { shown: shown, total: features.length });
      if (!fitted && markers.getLayers().length) {
        fitted = true;
        map.fitBounds(markers.getBounds(), { padding: [20, 20], maxZoom: 14 });
      }
    }

    stateBoxes.forEach(function (box) {
      box.addEventListener("change", redraw);
    });
    layerRadios.forEach(function (radio) {
      radio.addEventListener("change", redraw);
    });
    if (shapeBox) shapeBox.addEventListener("change", redraw);
    townSelect.addEventListener("change", redraw);
    redraw();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
