/* The results map: numbered markers matching the list. The list is the page's content and the
   map an extra: if Leaflet or the tiles cannot load, the list is all a person needs. */
(function () {
  "use strict";
  var element = document.querySelector("[data-map]");
  var panel = document.querySelector("[data-map-panel]");
  var source = element && document.getElementById(element.getAttribute("data-map"));
  if (!element || !source || !window.L) { return; }
  var data = JSON.parse(source.textContent);
  panel.hidden = false;

  var map = L.map(element, { scrollWheelZoom: false, tap: false });
  map.attributionControl.setPrefix(false);
  // Tiles are optional: with no network the markers still show on a plain background.
  L.tileLayer(data.tiles, { maxZoom: 18, attribution: data.attribution }).addTo(map);

  var bounds = [[data.centre.lat, data.centre.lng]];
  data.markers.forEach(function (item) { bounds.push([item.lat, item.lng]); });
  // The view first: Leaflet only draws markers (and so their elements exist) once it has one.
  map.fitBounds(bounds, { padding: [48, 48], maxZoom: 15 });
  L.marker([data.centre.lat, data.centre.lng], {
    icon: L.divIcon({ className: "map-place", iconSize: [18, 18] }),
    keyboard: false,
    interactive: false
  }).addTo(map);

  data.markers.forEach(function (item) {
    var label = item.number + ". " + item.name + (item.distance ? ", " + item.distance + " away" : "");
    var marker = L.marker([item.lat, item.lng], {
      icon: L.divIcon({ className: "map-marker", html: String(item.number), iconSize: [32, 32], iconAnchor: [4, 32] }),
      title: label,
      alt: label,
      riseOnHover: true
    }).addTo(map);
    var el = marker.getElement();
    if (el) {
      el.setAttribute("aria-label", label);
      el.setAttribute("role", "button");
    }
    var popup = document.createElement("div");
    var link = document.createElement("a");
    link.href = item.url;
    link.textContent = item.number + ". " + item.name;
    popup.appendChild(link);
    if (item.distance) {
      var p = document.createElement("p");
      p.textContent = item.distance + " away";
      popup.appendChild(p);
    }
    marker.bindPopup(popup);
  });
})();
