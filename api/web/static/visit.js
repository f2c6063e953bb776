/* The visit's map (step 2): the neighbourhood's outline and its extract's streets (no tiles: no
   request to another host), where a click adds a numbered stop and a click on a stop (or its
   "remove" button in the list) takes it away; the planned visit's walk is drawn once ready. The form's field, one "latitude, longitude" a
   line, holds the stops: typed into, it redraws them; without JavaScript it is the whole form. */
(function () {
  "use strict";
  var box = document.getElementById("carte-visite");
  var note = document.getElementById("note-carte-visite");
  var field = document.getElementById("points");
  var list = document.getElementById("liste-arrets");
  if (!box || !note || !field || !list || typeof L === "undefined") { return; }
  var texts = {};
  try { texts = JSON.parse(box.getAttribute("data-texts") || "{}"); } catch (e) { texts = {}; }
  var most = parseInt(box.getAttribute("data-max") || "12", 10);
  function text(name, n) { return (texts[name] || "").replace("{n}", String(n)); }
  function say(attribute, n) { note.textContent = (note.getAttribute(attribute) || "").replace("{n}", String(n)); }

  box.hidden = false;
  note.hidden = false;
  list.hidden = false;
  say("data-loading", 0);
  var map = L.map(box, { center: [46.6, 2.4], zoom: 5, zoomControl: false });
  L.control.zoom({ zoomInTitle: texts.zoomIn || "Zoom in", zoomOutTitle: texts.zoomOut || "Zoom out" }).addTo(map);
  var markers = L.layerGroup().addTo(map);

  function read() {  // the field's stops, lines that are not positions left out
    var points = [];
    field.value.split(/[;\n]/).forEach(function (line) {
      var found = /^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$/.exec(line);
      if (found) { points.push([parseFloat(found[1]), parseFloat(found[2])]); }
    });
    return points;
  }
  function write(points) {
    field.value = points.map(function (p) { return p[0].toFixed(6) + ", " + p[1].toFixed(6); }).join("\n");
    draw(points);
  }
  function remove(points, i) {
    points.splice(i, 1);
    write(points);
    say("data-removed", i + 1);
  }
  function draw(points) {
    markers.clearLayers();
    while (list.firstChild) { list.removeChild(list.firstChild); }
    points.forEach(function (p, i) {
      var n = i + 1;
      var icon = L.divIcon({ className: "visit-stop", html: String(n), iconSize: [26, 26], iconAnchor: [13, 13] });
      L.marker(p, { icon: icon, title: text("remove", n), alt: text("stop", n) })
        .on("click", function () { remove(read(), i); })
        .addTo(markers);
      var item = document.createElement("li");
      item.appendChild(document.createTextNode(text("stop", n) + " : " + p[0].toFixed(6) + ", " + p[1].toFixed(6) + " "));
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = text("remove", n);
      button.addEventListener("click", function () { remove(read(), i); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }
  map.on("click", function (e) {
    var points = read();
    if (points.length >= most) { say("data-full", most); return; }
    points.push([e.latlng.lat, e.latlng.lng]);
    write(points);
    say("data-added", points.length);
  });
  field.addEventListener("input", function () { draw(read()); });
  draw(read());

  var route = null;
  function showRoute() {  // the planned visit's walk, from its GeoJSON download
    var link = document.querySelector('#visite-etat a[href*="/visite.geojson?"]');
    if (!link) { return; }
    fetch(link.getAttribute("href"), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) {
        if (!data || !data.features) { return; }
        var walk = data.features.filter(function (f) { return f.properties && f.properties.kind === "route"; });
        if (route) { map.removeLayer(route); }
        route = L.geoJSON({ type: "FeatureCollection", features: walk },
                          { style: { color: "#b3261e", weight: 3, opacity: 0.8 }, interactive: false }).addTo(map);
        box.setAttribute("data-route", "1");
      })
      .catch(function () { return null; });
  }
  document.body.addEventListener("htmx:afterSwap", showRoute);

  fetch(note.getAttribute("data-map"), { credentials: "same-origin" })
    .then(function (answer) { return answer.ok ? answer.json() : { streets: null, territory: null }; })
    .then(function (data) {
      var bounds = null;
      if (data.streets && data.streets.features && data.streets.features.length) {
        var streets = L.geoJSON(data.streets, { style: { color: "#555", weight: 1 }, interactive: false }).addTo(map);
        bounds = streets.getBounds();
        say("data-ready-text", 0);
      } else {
        say("data-no-streets", 0);
      }
      if (data.territory) {
        var outline = L.geoJSON(data.territory, { style: { color: "#0b5394", weight: 2, dashArray: "6 4", fill: false }, interactive: false }).addTo(map);
        bounds = outline.getBounds();
      }
      if (bounds && bounds.isValid()) { map.fitBounds(bounds); }
      box.setAttribute("data-ready", "1");
      showRoute();
    })
    .catch(function () {
      say("data-no-streets", 0);
      box.setAttribute("data-ready", "1");
    });
}());
