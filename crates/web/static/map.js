// Health Commons' map: tiles and markers drawn without a library. Every
// element with class "hc-map" draws the places in its data-points (JSON:
// [{lat, lon, label, href}]) on the tiles of data-tiles ("…/{z}/{x}/{y}.png").
// The list next to each map carries the same places for people who cannot
// use a map, so nothing here is needed to read the page.
(function () {
  "use strict";
  var TILE = 256;
  var MAX_ZOOM = 16;

  function scale(zoom) {
    return TILE * Math.pow(2, zoom);
  }

  // Web Mercator: degrees to pixels at a zoom level, and back.
  function project(lat, lon, zoom) {
    var sin = Math.min(Math.max(Math.sin(lat * Math.PI / 180), -0.9999), 0.9999);
    return {
      x: (lon + 180) / 360 * scale(zoom),
      y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale(zoom)
    };
  }

  function unproject(x, y, zoom) {
    var n = Math.PI * (1 - 2 * y / scale(zoom));
    return {
      lat: Math.atan((Math.exp(n) - Math.exp(-n)) / 2) * 180 / Math.PI,
      lon: x / scale(zoom) * 360 - 180
    };
  }

  // The closest zoom that shows every point, and the centre of them all.
  function fit(points, width, height) {
    var zoom = MAX_ZOOM;
    for (; zoom > 1; zoom--) {
      var xs = points.map(function (p) { return project(p.lat, p.lon, zoom).x; });
      var ys = points.map(function (p) { return project(p.lat, p.lon, zoom).y; });
      var wide = Math.max.apply(null, xs) - Math.min.apply(null, xs);
      var tall = Math.max.apply(null, ys) - Math.min.apply(null, ys);
      if (wide <= width - 48 && tall <= height - 48) {
        break;
      }
    }
    if (points.length === 1) {
      zoom = Math.min(zoom, 12);
    }
    var lats = points.map(function (p) { return p.lat; });
    var lons = points.map(function (p) { return p.lon; });
    return {
      zoom: zoom,
      lat: (Math.max.apply(null, lats) + Math.min.apply(null, lats)) / 2,
      lon: (Math.max.apply(null, lons) + Math.min.apply(null, lons)) / 2
    };
  }

  function draw(map) {
    var width = map.el.clientWidth;
    var height = map.el.clientHeight;
    var count = Math.pow(2, map.zoom);
    var centre = project(map.lat, map.lon, map.zoom);
    var left = centre.x - width / 2;
    var top = centre.y - height / 2;
    map.layer.textContent = "";
    map.layer.style.transform = "";
    for (var tx = Math.floor(left / TILE); tx <= Math.floor((left + width) / TILE); tx++) {
      for (var ty = Math.max(0, Math.floor(top / TILE)); ty <= Math.min(count - 1, Math.floor((top + height) / TILE)); ty++) {
        var tile = document.createElement("img");
        tile.className = "hc-tile";
        tile.alt = "";
        tile.draggable = false;
        tile.style.left = (tx * TILE - left) + "px";
        tile.style.top = (ty * TILE - top) + "px";
        tile.onerror = function () { this.style.visibility = "hidden"; };
        tile.src = map.tiles
          .replace("{z}", map.zoom)
          .replace("{x}", ((tx % count) + count) % count)
          .replace("{y}", ty);
        map.layer.appendChild(tile);
      }
    }
    map.points.forEach(function (point) {
      var at = project(point.lat, point.lon, map.zoom);
      var marker = document.createElement(point.href ? "a" : "span");
      marker.className = "hc-marker";
      if (point.href) {
        marker.href = point.href;
      }
      marker.title = point.label;
      marker.setAttribute("aria-label", point.label);
      marker.style.left = (at.x - left) + "px";
      marker.style.top = (at.y - top) + "px";
      map.layer.appendChild(marker);
    });
  }

  function button(map, text, label, change) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", function () {
      map.zoom = Math.min(MAX_ZOOM + 2, Math.max(1, map.zoom + change));
      draw(map);
    });
    return b;
  }

  function start(el) {
    var points;
    try {
      points = JSON.parse(el.getAttribute("data-points") || "[]").filter(function (p) {
        return isFinite(p.lat) && isFinite(p.lon);
      });
    } catch (e) {
      return;
    }
    if (points.length === 0) {
      return;
    }
    el.classList.add("hc-map-ready");
    var layer = document.createElement("div");
    layer.className = "hc-layer";
    el.appendChild(layer);
    var view = fit(points, el.clientWidth, el.clientHeight);
    var map = {
      el: el,
      layer: layer,
      points: points,
      tiles: el.getAttribute("data-tiles") || "",
      zoom: view.zoom,
      lat: view.lat,
      lon: view.lon
    };
    var controls = document.createElement("div");
    controls.className = "hc-zoom";
    controls.appendChild(button(map, "+", "Zoom in", 1));
    controls.appendChild(button(map, "−", "Zoom out", -1));
    el.appendChild(controls);
    var credit = document.createElement("div");
    credit.className = "hc-attribution";
    credit.textContent = el.getAttribute("data-attribution") || "";
    el.appendChild(credit);

    // Drag to pan: the layer follows the pointer, and is redrawn on release.
    var from = null;
    el.addEventListener("pointerdown", function (e) {
      if (e.target.closest("button, a")) {
        return;
      }
      from = { x: e.clientX, y: e.clientY };
      el.setPointerCapture(e.pointerId);
    });
    el.addEventListener("pointermove", function (e) {
      if (from) {
        layer.style.transform = "translate(" + (e.clientX - from.x) + "px," + (e.clientY - from.y) + "px)";
      }
    });
    el.addEventListener("pointerup", function (e) {
      if (!from) {
        return;
      }
      var centre = project(map.lat, map.lon, map.zoom);
      var moved = unproject(centre.x - (e.clientX - from.x), centre.y - (e.clientY - from.y), map.zoom);
      map.lat = Math.max(-85, Math.min(85, moved.lat));
      map.lon = moved.lon;
      from = null;
      draw(map);
    });
    draw(map);
  }

  document.querySelectorAll(".hc-map").forEach(start);
})();
