/* The outline page's map (step 1): the extract's streets, Leaflet.draw's polygon tool, and the
   form's GeoJSON field filled with what is drawn. No tiles: the streets are the only basemap. */
(function () {
  "use strict";
  var box = document.getElementById("carte-contour");
  var note = document.getElementById("note-carte");
  var field = document.getElementById("geojson");
  if (!box || !note || !field || typeof L === "undefined" || !L.Control.Draw) { return; }
  var texts = {};
  try { texts = JSON.parse(box.getAttribute("data-texts") || "{}"); } catch (e) { texts = {}; }
  function merge(into, from) {  // the page's language over Leaflet.draw's English texts
    Object.keys(from).forEach(function (key) {
      if (from[key] && typeof from[key] === "object" && into[key] && typeof into[key] === "object") {
        merge(into[key], from[key]);
      } else if (typeof from[key] === "string") {
        into[key] = from[key];
      }
    });
  }
  merge(L.drawLocal, { draw: texts.draw || {}, edit: texts.edit || {} });
  var map = L.map(box, { center: [46.6, 2.4], zoom: 5, zoomControl: false });
  L.control.zoom({ zoomInTitle: texts.zoomIn || "Zoom in", zoomOutTitle: texts.zoomOut || "Zoom out" }).addTo(map);
  var drawn = new L.FeatureGroup().addTo(map);
  function zoomed() { box.setAttribute("data-zoom", String(map.getZoom())); }
  map.on("zoomend", zoomed);
  zoomed();
  map.addControl(new L.Control.Draw({
    draw: { polyline: false, circle: false, marker: false, circlemarker: false, rectangle: false,
            polygon: { allowIntersection: false, showArea: false } },
    edit: { featureGroup: drawn }
  }));
  function fill() {
    var shapes = [];
    drawn.eachLayer(function (layer) { shapes.push(layer.toGeoJSON()); });
    field.value = shapes.length ? JSON.stringify({ type: "FeatureCollection", features: shapes }) : "";
  }
  map.on(L.Draw.Event.CREATED, function (e) {
    drawn.clearLayers();
    drawn.addLayer(e.layer);
    fill();
    note.textContent = box.getAttribute("data-drawn");
  });
  map.on(L.Draw.Event.EDITED, fill);
  map.on(L.Draw.Event.DELETED, fill);
  fetch(note.getAttribute("data-streets"), { credentials: "same-origin" })
    .then(function (answer) { return answer.ok ? answer.json() : { streets: null, territory: null }; })
    .then(function (data) {
      var bounds = null;
      if (data.streets && data.streets.features && data.streets.features.length) {
        var streets = L.geoJSON(data.streets, { style: { color: "#555", weight: 1 }, interactive: false }).addTo(map);
        bounds = streets.getBounds();
        note.textContent = box.getAttribute("data-streets-loaded");
      } else {
        note.textContent = box.getAttribute("data-no-streets");
      }
      if (data.territory) {
        var outline = L.geoJSON(data.territory, { style: { color: "#0b5394", weight: 2, dashArray: "6 4", fill: false }, interactive: false }).addTo(map);
        bounds = outline.getBounds();
      }
      if (bounds && bounds.isValid()) { map.fitBounds(bounds); }
      box.setAttribute("data-ready", "1");
    })
    .catch(function () {
      note.textContent = box.getAttribute("data-no-streets");
      box.setAttribute("data-ready", "1");
    });
}());
