/*
 * A Leaflet layer that draws many polygons (the LSOAs of a map: an ICB's few hundred, England's
 * 33,755) on one canvas, fast: the rings are projected once into Web Mercator "world" units and
 * kept in typed arrays, and each redraw fills the polygons in view only, grouped by style so the
 * canvas state changes seldom. No Leaflet object or DOM element is made per polygon, so a map
 * draws in a fraction of the time L.geoJSON's SVG paths take (seconds for England). Tooltips find
 * the polygon under the pointer through a grid of boxes. As Leaflet's own renderers do, the canvas
 * covers the view and a margin around it (so a drag shows polygons at once) and is scaled while
 * the map zooms, then drawn again.
 *
 * GapmapCanvas.layer(L, packed, scale, {style: fn(feature) -> {fillColor, color, weight,
 *   fillOpacity, opacity, dashArray}, tooltip: fn(feature) -> html}) returns the layer; it answers
 * setStyle(fn), getBounds(), getLayers() (the features), bringToBack() as a GeoJSON layer does.
 * After each redraw the canvas carries data-drawn (redraws so far) and data-shapes (polygons drawn
 * in that redraw, each LSOA in the view and its margin once).
 * The pure parts (projection, point in polygon, dash patterns) are exported for node's test runner.
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module.exports) { module.exports = api; } else { root.GapmapCanvas = api; }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';
  var GRID = 96;  // cells a side of the tooltip index
  var MAX_LAT = 85.0511287798;
  var PADDING = 0.1;  // the margin drawn beyond the view on each side, a share of its size (Leaflet's default)

  /* A Leaflet dashArray ('3 3', '5, 10') as the canvas's line dash: [] for a solid line. */
  function dashes(dashArray) {
    if (!dashArray) { return []; }
    return String(dashArray).split(/[\s,]+/).filter(function (t) { return t !== ''; }).map(Number);
  }

  /* Web Mercator at zoom 0 in units of one world (0..1), as Leaflet's EPSG:3857 projects. */
  function world(lon, lat) {
    var y = Math.max(Math.min(MAX_LAT, lat), -MAX_LAT) * Math.PI / 180;
    return [lon / 360 + 0.5, 0.5 - Math.log(Math.tan(Math.PI / 4 + y / 2)) / (2 * Math.PI)];
  }

  /* Each LSOA of the page's packed data (columns, and rings of integers: the first point absolute,
     the rest differences, all times `scale`; see geo/outputs/geojson_text.py) as {feature:
     {properties}, rings: Float64Arrays of world x, y pairs, box: [minx, miny, maxx, maxy]}. */
  function project(packed, scale) {
    var keys = Object.keys(packed.columns);
    return packed.rings.map(function (parts, n) {
      var properties = {};
      for (var k = 0; k < keys.length; k++) { properties[keys[k]] = packed.columns[keys[k]][n]; }
      var rings = [], box = [Infinity, Infinity, -Infinity, -Infinity];
      parts.forEach(function (part) {
        part.forEach(function (ring) {
          var out = new Float64Array(ring.length), x = 0, y = 0;
          for (var i = 0; i < ring.length; i += 2) {
            x += ring[i];
            y += ring[i + 1];
            var p = world(x / scale, y / scale);
            out[i] = p[0];
            out[i + 1] = p[1];
            if (p[0] < box[0]) { box[0] = p[0]; }
            if (p[1] < box[1]) { box[1] = p[1]; }
            if (p[0] > box[2]) { box[2] = p[0]; }
            if (p[1] > box[3]) { box[3] = p[1]; }
          }
          rings.push(out);
        });
      });
      return {feature: {type: 'Feature', properties: properties}, rings: rings, box: box};
    });
  }

  /* Whether world point (x, y) is inside the rings (even-odd: holes are rings too). */
  function inside(rings, x, y) {
    var odd = false;
    rings.forEach(function (r) {
      for (var i = 0, j = r.length - 2; i < r.length; j = i, i += 2) {
        var yi = r[i + 1], yj = r[j + 1];
        if ((yi > y) !== (yj > y) && x < (r[j] - r[i]) * (y - yi) / (yj - yi) + r[i]) { odd = !odd; }
      }
    });
    return odd;
  }

  function layer(L, packed, scale, options) {
    var shapes = project(packed, scale);
    var all = [Infinity, Infinity, -Infinity, -Infinity];
    shapes.forEach(function (s) {
      all = [Math.min(all[0], s.box[0]), Math.min(all[1], s.box[1]), Math.max(all[2], s.box[2]), Math.max(all[3], s.box[3])];
    });
    var cellW = (all[2] - all[0]) / GRID || 1, cellH = (all[3] - all[1]) / GRID || 1;
    var grid = [];
    function cell(x, y) {
      return [Math.min(GRID - 1, Math.max(0, Math.floor((x - all[0]) / cellW))),
              Math.min(GRID - 1, Math.max(0, Math.floor((y - all[1]) / cellH)))];
    }
    shapes.forEach(function (s, n) {
      var a = cell(s.box[0], s.box[1]), b = cell(s.box[2], s.box[3]);
      for (var i = a[0]; i <= b[0]; i++) {
        for (var j = a[1]; j <= b[1]; j++) { (grid[j * GRID + i] = grid[j * GRID + i] || []).push(n); }
      }
    });

    function unworld(x, y) {  // world units back to a LatLng
      var lat = (2 * Math.atan(Math.exp((0.5 - y) * 2 * Math.PI)) - Math.PI / 2) * 180 / Math.PI;
      return L.latLng(lat, (x - 0.5) * 360);
    }

    var Layer = L.Layer.extend({
      initialize: function () { this._style = options.style; this._styles = null; },
      getLayers: function () { return shapes.map(function (s) { return s.feature; }); },
      getBounds: function () { return L.latLngBounds(unworld(all[0], all[3]), unworld(all[2], all[1])); },
      bringToBack: function () { return this; },
      setStyle: function (fn) { this._style = fn; this._styles = null; this._schedule(); return this; },
      onAdd: function (map) {
        var animated = map._zoomAnimated;
        this._canvas = L.DomUtil.create('canvas', 'gapmap-canvas ' + (animated ? 'leaflet-zoom-animated' : 'leaflet-zoom-hide'));
        this._canvas.setAttribute('aria-hidden', 'true');  // the table view is the accessible form
        map.getPane('overlayPane').insertBefore(this._canvas, map.getPane('overlayPane').firstChild);
        map.on('moveend zoomend resize viewreset', this._schedule, this);
        if (animated) { map.on('zoomanim', this._animate, this); }
        map.on('mousemove', this._hover, this);
        map.on('mouseout', this._leave, this);
        this._schedule();
      },
      onRemove: function (map) {
        map.off('moveend zoomend resize viewreset', this._schedule, this);
        map.off('zoomanim', this._animate, this);
        map.off('mousemove', this._hover, this);
        map.off('mouseout', this._leave, this);
        this._leave();
        L.DomUtil.remove(this._canvas);
      },
      _schedule: function () {  // one redraw per animation frame, however many changes asked for it
        if (this._pending) { return; }
        var self = this;
        this._pending = L.Util.requestAnimFrame(function () { self._pending = null; self._draw(); });
      },
      _animate: function (e) {  // while the map zooms, the drawing is scaled about the zoom's centre (L.Renderer's way)
        if (!this._drawnAt) { return; }
        var map = this._map, scale = map.getZoomScale(e.zoom, this._drawnAt.zoom);
        var offset = map.getSize().multiplyBy(0.5 + PADDING).multiplyBy(-scale)
          .add(map.project(this._drawnAt.center, e.zoom)).subtract(map._getNewPixelOrigin(e.center, e.zoom));
        L.DomUtil.setTransform(this._canvas, offset, scale);
      },
      _draw: function () {
        var map = this._map;
        if (!map) { return; }
        var view = map.getSize(), ratio = (window.devicePixelRatio || 1);
        var margin = view.multiplyBy(PADDING).round(), size = view.add(margin.multiplyBy(2));
        var canvas = this._canvas, ctx = canvas.getContext('2d');
        var topLeft = map.containerPointToLayerPoint(margin.multiplyBy(-1));
        L.DomUtil.setPosition(canvas, topLeft);  // and no scale: a zoom's transform is undone
        this._drawnAt = {center: map.getCenter(), zoom: map.getZoom()};
        canvas.width = size.x * ratio;
        canvas.height = size.y * ratio;
        canvas.style.width = size.x + 'px';
        canvas.style.height = size.y + 'px';
        var scale = 256 * Math.pow(2, map.getZoom());
        var origin = map.getPixelOrigin().add(topLeft);
        var minx = origin.x / scale, miny = origin.y / scale;
        var maxx = (origin.x + size.x) / scale, maxy = (origin.y + size.y) / scale;
        if (!this._styles) { var fn = this._style; this._styles = shapes.map(function (s) { return fn(s.feature); }); }
        var groups = {};
        for (var n = 0; n < shapes.length; n++) {
          var b = shapes[n].box;
          if (b[2] < minx || b[0] > maxx || b[3] < miny || b[1] > maxy) { continue; }
          var st = this._styles[n], key = st.fillColor + '|' + st.color + '|' + st.weight + '|' +
            st.fillOpacity + '|' + st.opacity + '|' + (st.dashArray || '');
          (groups[key] = groups[key] || {style: st, shapes: []}).shapes.push(shapes[n]);
        }
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        ctx.clearRect(0, 0, size.x, size.y);
        ctx.lineJoin = 'round';
        var drawnShapes = 0;
        Object.keys(groups).forEach(function (key) {
          // one path per polygon: Skia slows to seconds on one path of thousands of rings
          var g = groups[key], st = g.style, fill = st.fillOpacity === undefined ? 0.2 : st.fillOpacity;
          var line = st.opacity === undefined ? 1 : st.opacity;
          ctx.fillStyle = st.fillColor;
          ctx.strokeStyle = st.color;
          ctx.lineWidth = st.weight || 0;
          ctx.setLineDash(dashes(st.dashArray));  // "No data" LSOAs are outlined dashed
          drawnShapes += g.shapes.length;
          g.shapes.forEach(function (s) {
            ctx.beginPath();
            s.rings.forEach(function (r) {
              ctx.moveTo(r[0] * scale - origin.x, r[1] * scale - origin.y);
              for (var i = 2; i < r.length; i += 2) { ctx.lineTo(r[i] * scale - origin.x, r[i + 1] * scale - origin.y); }
              ctx.closePath();
            });
            ctx.globalAlpha = fill;
            ctx.fill('evenodd');
            if (st.weight) {
              ctx.globalAlpha = line;
              ctx.stroke();
            }
          });
        });
        ctx.globalAlpha = 1;
        ctx.setLineDash([]);
        this._drawn = (this._drawn || 0) + 1;
        canvas.setAttribute('data-shapes', String(drawnShapes));
        canvas.setAttribute('data-drawn', String(this._drawn));
      },
      _at: function (latlng) {
        var p = world(latlng.lng, latlng.lat);
        if (p[0] < all[0] || p[0] > all[2] || p[1] < all[1] || p[1] > all[3]) { return null; }
        var c = cell(p[0], p[1]), found = grid[c[1] * GRID + c[0]] || [];
        for (var k = 0; k < found.length; k++) {
          var s = shapes[found[k]], b = s.box;
          if (p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3] && inside(s.rings, p[0], p[1])) { return s; }
        }
        return null;
      },
      _hover: function (e) {
        var s = this._at(e.latlng), map = this._map;
        if (!s) { this._leave(); return; }
        if (!this._tooltip) { this._tooltip = L.tooltip({sticky: true, direction: 'auto'}); }
        if (this._over !== s) { this._tooltip.setContent(options.tooltip(s.feature)); this._over = s; }
        this._tooltip.setLatLng(e.latlng);
        if (!map.hasLayer(this._tooltip)) { this._tooltip.openOn(map); }
        map.getContainer().style.cursor = 'pointer';
      },
      _leave: function () {
        if (this._tooltip && this._map && this._map.hasLayer(this._tooltip)) { this._map.closeTooltip(this._tooltip); }
        this._over = null;
        if (this._map) { this._map.getContainer().style.cursor = ''; }
      }
    });
    return new Layer();
  }

  return {world: world, project: project, inside: inside, dashes: dashes, layer: layer};
});
