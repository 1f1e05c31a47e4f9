/* Outil de localisation: my school and the candidates on a Leaflet map, coloured by zone.
   The data come from the page (json_script); the list beside the map works without it. */
(function () {
  "use strict";
  function start() {
    var element = document.getElementById("carte");
    var source = document.getElementById("carte-donnees");
    if (!element || !source || typeof L === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    if (data.origine.lat === null || data.origine.lat === undefined) {
      return;
    }
    element.innerHTML = "";
    var map = L.map(element, { scrollWheelZoom: false });
    if (data.tuiles) {
      var attribution = document.getElementById("carte-attribution");
      L.tileLayer(data.tuiles, {
        maxZoom: 18,
        attribution: attribution ? attribution.textContent : ""
      }).addTo(map);
    }
    var points = [[data.origine.lat, data.origine.lon]];
    L.circleMarker([data.origine.lat, data.origine.lon], {
      radius: 10, color: "#000000", weight: 3, fillColor: "#ffffff", fillOpacity: 1
    }).addTo(map).bindPopup(document.createTextNode(data.origine.nom + " (mon établissement)"));
    data.candidats.forEach(function (c) {
      var text = c.nom + ", " + c.commune + " : " + c.distance +
        (c.approximative ? " (position approximative)" : "") + " ; " + c.zone +
        " ; " + c.heures + ", total " + c.total;
      L.circleMarker([c.lat, c.lon], {
        radius: 8, color: "#ffffff", weight: 1, fillColor: c.couleur, fillOpacity: 0.9
      }).addTo(map).bindPopup(document.createTextNode(text));
      L.polyline([[data.origine.lat, data.origine.lon], [c.lat, c.lon]], {
        color: c.couleur, weight: 1, opacity: 0.4, interactive: false
      }).addTo(map);
      points.push([c.lat, c.lon]);
    });
    if (points.length > 1) {
      map.fitBounds(points, { padding: [30, 30], maxZoom: 14 });
    } else {
      map.setView(points[0], 12);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
