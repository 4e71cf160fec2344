/*
 * Gapmap's map page: draws the LSOAs, the point layers and the "Colour the LSOAs by" views from
 * the data the server puts in the page (<script type="application/json" id="gapmap-data">), keeps
 * the map's state (view, layers, table or map) in the address so a link or an embedded frame opens
 * the same map, and shows what the map shows as a table.
 *
 * The pure parts (ring decoding, styles, labels, address state, table rows) are exported for
 * node's test runner (tests/js/); in a browser the module is window.Gapmap and runs itself on load.
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.Gapmap = api;
    root.addEventListener('load', function () {
      var element = root.document.getElementById('gapmap-data');
      if (element) { api.init(JSON.parse(element.textContent), root); }
    });
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /* One geometry's parts: each ring a flat list of integers, the first point absolute and the
     rest differences from the point before, all times `scale` (geo/geojson_text.py writes them). */
  function decodeRings(parts, scale) {
    return parts.map(function (part) {
      return part.map(function (ring) {
        var out = [], x = 0, y = 0;
        for (var i = 0; i < ring.length; i += 2) {
          x += ring[i];
          y += ring[i + 1];
          out.push([x / scale, y / scale]);
        }
        return out;
      });
    });
  }

  /* The packed columns and rings as a GeoJSON FeatureCollection of MultiPolygons. */
  function features(packed, scale) {
    var keys = Object.keys(packed.columns);
    return {type: 'FeatureCollection', features: packed.rings.map(function (parts, n) {
      var properties = {};
      keys.forEach(function (k) { properties[k] = packed.columns[k][n]; });
      return {type: 'Feature', properties: properties,
              geometry: {type: 'MultiPolygon', coordinates: decodeRings(parts, scale)}};
    })};
  }

  function viewIndex(views, key) {
    for (var i = 0; i < views.length; i++) { if (views[i].key === key) { return i; } }
    return -1;
  }

  /* Palette index of an LSOA in view i, or null where it has no class (no data). */
  function classIndex(properties, i) {
    var c = properties['f' + i];
    return (c === null || c === undefined) ? null : c;
  }

  /* The Leaflet path style of an LSOA in view i: its class colour, or "No data" grey, dashed. */
  function styleOf(properties, i, data) {
    var c = classIndex(properties, i);
    var colour = c === null ? null : data.views[i].palette[c];
    // England-sized maps: no borders, but each LSOA outlined in its own colour, so the many that
    // are under a pixel at this zoom (cities) still show
    return {fillColor: colour || data.nodata, color: data.compact ? colour || data.nodata : '#555555',
            weight: data.stroke, fillOpacity: 0.75, opacity: data.compact ? 0.75 : 1,
            dashArray: colour || data.compact ? null : '3 3'};
  }

  /* What the legend of view i calls an LSOA's class. */
  function classLabel(properties, i, data) {
    var c = classIndex(properties, i);
    return c === null ? data.nodataLabel : data.views[i].labels[c];
  }

  function escapeHtml(text) {
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;');
  }

  /* The tooltip: every labelled property the LSOA has, under its readable label. */
  function tooltipHtml(properties, labels) {
    var rows = [];
    Object.keys(labels).forEach(function (k) {
      var v = properties[k];
      if (v !== null && v !== undefined) {
        rows.push('<tr><th scope="row">' + escapeHtml(labels[k]) + '</th><td>' + escapeHtml(v) + '</td></tr>');
      }
    });
    return '<table>' + rows.join('') + '</table>';
  }

  /* The state an address asks for: the view's key, the overlays shown (null: the page's
     defaults) and whether the table is shown. Unknown views and layers are dropped. */
  function parseState(search, views, overlays) {
    var params = new URLSearchParams(search);
    var view = params.get('view');
    var state = {view: viewIndex(views, view) >= 0 ? view : views[0].key, layers: null,
                 display: params.get('display') === 'table' ? 'table' : 'map'};
    if (params.has('layers')) {
      var known = overlays.map(function (o) { return o.key; });
      state.layers = params.get('layers').split(',').filter(function (k) { return known.indexOf(k) >= 0; });
    }
    return state;
  }

  /* The address query for a state, keeping every other parameter (place, indicator, classes...). */
  function stateQuery(search, state) {
    var params = new URLSearchParams(search);
    params.set('view', state.view);
    params.set('layers', (state.layers || []).join(','));
    if (state.display === 'table') { params.set('display', 'table'); } else { params.delete('display'); }
    return '?' + params.toString();
  }

  /* Rows of the table view: one per LSOA, what the map shows for it in view i. */
  function tableRows(packed, i, data) {
    var columns = packed.columns, n = packed.rings.length, rows = [];
    for (var r = 0; r < n; r++) {
      var properties = {};
      for (var k in columns) { properties[k] = columns[k][r]; }
      rows.push({code: properties.c, name: properties.n, ward: properties.w, value: properties.v,
                 deciles: properties.d, label: classLabel(properties, i, data)});
    }
    return rows;
  }

  function tableHtml(rows, data, i) {
    var has = function (k) { return rows.some(function (r) { return r[k] !== null && r[k] !== undefined; }); };
    var cols = [['code', 'LSOA code'], ['name', 'LSOA'], ['ward', 'Ward'], ['value', data.labels.v || 'Value'],
                ['deciles', 'IMD decile (England)']].filter(function (c) { return has(c[0]); });
    cols.push(['label', data.views[i].name]);
    var head = cols.map(function (c) { return '<th scope="col">' + escapeHtml(c[1]) + '</th>'; }).join('');
    var body = rows.map(function (r) {
      return '<tr>' + cols.map(function (c) {
        var v = r[c[0]];
        return (c[0] === 'code' ? '<th scope="row">' : '<td>') + escapeHtml(v === null || v === undefined ? '' : v) +
          (c[0] === 'code' ? '</th>' : '</td>');
      }).join('') + '</tr>';
    }).join('');
    return '<table class="gapmap-data-table"><caption>' + escapeHtml(data.title) + ': ' +
      escapeHtml(data.views[i].name) + ' (' + rows.length + ' LSOAs)</caption><thead><tr>' + head +
      '</tr></thead><tbody>' + body + '</tbody></table>';
  }

  /* Everything that needs a browser and Leaflet. */
  function init(data, win) {
    var doc = win.document, L = win.L;
    var map = win[data.map];
    var canvas = data.compact && win.GapmapCanvas;  // England-sized: drawn from the packed data
    var geojson = canvas ? null : features(data.packed, data.scale);
    var overlays = data.overlays.map(function (o) { return {key: o.key, name: o.name, layer: win[o.layer]}; })
      .filter(function (o) { return o.layer; });
    var state = parseState(win.location.search, data.views, data.overlays);

    // one <main> landmark holding the title, the map and its table (screen readers find them there)
    var container = map.getContainer(), main = doc.createElement('main');
    main.className = 'gapmap-main';
    container.parentNode.insertBefore(main, container);
    ['.visually-hidden', '#gapmap-table'].forEach(function (s) { var e = doc.querySelector(s); if (e) { main.appendChild(e); } });
    main.insertBefore(container, main.querySelector('#gapmap-table'));
    map.invalidateSize();
    var view = viewIndex(data.views, state.view);

    // the points of each point layer, as small circles (schools clustered)
    data.points.forEach(function (group) {
      var target = win[group.layer];
      group.rows.forEach(function (r) {
        // white-ringed, so a point shows on every class colour
        var marker = L.circleMarker([r[0], r[1]], {radius: group.row_colours ? 7 : 6, color: '#ffffff', weight: 1.5,
                                                   fillColor: group.row_colours ? r[3] : group.colour,
                                                   fillOpacity: 1});
        marker.bindTooltip(escapeHtml(r[2]));
        if (group.popup) {
          marker.bindPopup('<b>' + escapeHtml(r[2]) + '</b><br>' + escapeHtml(r[3]) + '<br>Pupils: ' +
            (r[4] === null ? 'not known' : r[4]) + '<br>Free school meals: ' +
            (r[5] === null ? 'not known' : r[5] + '%'));
        }
        if (target.addLayer) { target.addLayer(marker); } else { marker.addTo(target); }
      });
    });

    // England-sized maps: one canvas drawn in bulk (static/js/gapmap-canvas.js), not a Leaflet path per LSOA
    var layer = canvas ? win.GapmapCanvas.layer(L, data.packed, data.scale, {
      style: function (f) { return styleOf(f.properties, view, data); },
      tooltip: function (f) { return tooltipHtml(f.properties, data.labels); }
    }).addTo(map) : L.geoJSON(geojson, {
      style: function (f) { return styleOf(f.properties, view, data); },
      renderer: data.compact ? L.canvas() : undefined,
      smoothFactor: data.compact ? 0 : 1,  // keep the smallest LSOAs rather than simplify them away
      onEachFeature: function (f, l) {
        l.bindTooltip(function () { return tooltipHtml(f.properties, data.labels); }, {sticky: true});
      }
    }).addTo(map);
    layer.bringToBack();
    win.gapmapLsoas = layer;

    // fit the place (or the LSOA or ward found by search) to the frame as it is now, and again when
    // the frame changes size, until the reader moves the map themselves
    var moved = false, fitting = false;
    function fit() {
      fitting = true;
      if (data.focus) { map.fitBounds(data.focus, {maxZoom: 15, animate: false}); } else {
        // clear of the legends (left) and the layer list (right) where that costs no zoom
        var bounds = layer.getBounds();
        var width = function (selector) { var e = doc.querySelector(selector); return e ? e.offsetWidth + 16 : 8; };
        var left = width('.gapmap-legends'), right = width('.leaflet-control-layers');
        var plain = map.getBoundsZoom(bounds, false, L.point(16, 16));
        var choice = [[left, right], [left, 8], [8, right], [8, 8]].filter(function (p) {
          return map.getBoundsZoom(bounds, false, L.point(p[0] + p[1], 16)) >= plain;
        })[0] || [8, 8];
        map.fitBounds(bounds, {paddingTopLeft: [choice[0], 8], paddingBottomRight: [choice[1], 8], animate: false});
      }
      fitting = false;
    }
    map.on('dragstart', function () { moved = true; });
    map.on('zoomstart', function () { if (!fitting) { moved = true; } });
    map.on('resize', function () { if (!moved) { fit(); } });

    // "Colour the LSOAs by": a select, so the box stays one line high whatever the number of views
    var views = L.control({position: 'topleft'});
    views.onAdd = function () {
      var div = L.DomUtil.create('div', 'gapmap-views leaflet-bar');
      var label = L.DomUtil.create('label', '', div);
      label.setAttribute('for', 'gapmap-view');
      label.textContent = 'Colour the LSOAs by';
      var select = L.DomUtil.create('select', '', div);
      select.id = 'gapmap-view';
      data.views.forEach(function (v) {
        var option = L.DomUtil.create('option', '', select);
        option.value = v.key;
        option.textContent = v.name;
      });
      var button = L.DomUtil.create('button', 'gapmap-table-button', div);
      button.type = 'button';
      button.id = 'gapmap-table-button';
      button.textContent = 'Show as a table';
      button.setAttribute('aria-controls', 'gapmap-table');
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      select.addEventListener('change', function () { setView(select.value); });
      button.addEventListener('click', function () { setDisplay(state.display === 'table' ? 'map' : 'table'); });
      return div;
    };
    views.addTo(map);

    // the legends (rendered by the server) in one control at the bottom left, above the scale
    var legends = L.control({position: 'bottomleft'});
    legends.onAdd = function () {
      var div = L.DomUtil.create('div', 'gapmap-legends');
      Array.prototype.forEach.call(doc.querySelectorAll('.gapmap-legend'), function (el) { div.appendChild(el); });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legends.addTo(map);
    fit();

    var table = doc.getElementById('gapmap-table');

    function publish() {
      state.layers = overlays.filter(function (o) { return map.hasLayer(o.layer); }).map(function (o) { return o.key; });
      var query = stateQuery(win.location.search, state);
      if (win.history && win.history.replaceState) {
        win.history.replaceState(null, '', win.location.pathname + query + win.location.hash);
      }
      if (win.parent && win.parent !== win && sameOriginParent()) {  // the map page around the frame follows
        win.parent.postMessage({type: 'gapmap-state', query: query}, win.location.origin);
      }
      doc.documentElement.setAttribute('data-gapmap-state', query);
    }

    function sameOriginParent() {
      try {  // reading another origin's address throws: an intranet page embedding the map is told nothing
        return win.parent.location.origin === win.location.origin;
      } catch (e) {
        return false;
      }
    }

    function renderTable() {
      if (state.display !== 'table') { return; }
      table.querySelector('.gapmap-table-body').innerHTML = tableHtml(tableRows(data.packed, view, data), data, view);
    }

    function setView(key) {
      view = Math.max(0, viewIndex(data.views, key));
      state.view = data.views[view].key;
      layer.setStyle(function (f) { return styleOf(f.properties, view, data); });
      Array.prototype.forEach.call(doc.querySelectorAll('.gapmap-legend'), function (el) {
        el.hidden = el.getAttribute('data-view') !== state.view;
      });
      doc.getElementById('gapmap-view').value = state.view;
      renderTable();
      publish();
    }

    function setDisplay(display) {
      state.display = display;
      table.hidden = display !== 'table';
      var button = doc.getElementById('gapmap-table-button');
      button.textContent = display === 'table' ? 'Show the map' : 'Show as a table';
      button.setAttribute('aria-expanded', display === 'table' ? 'true' : 'false');
      renderTable();
      if (display === 'table') { table.focus(); }
      publish();
    }
    table.querySelector('.gapmap-table-close').addEventListener('click', function () { setDisplay('map'); });

    if (state.layers !== null) {  // the address says which layers to show
      overlays.forEach(function (o) {
        var wanted = state.layers.indexOf(o.key) >= 0;
        if (wanted && !map.hasLayer(o.layer)) { map.addLayer(o.layer); }
        if (!wanted && map.hasLayer(o.layer)) { map.removeLayer(o.layer); }
      });
    }
    map.on('overlayadd overlayremove', publish);
    // the layer list shows each point layer's colour, the key to its markers (again whenever
    // Leaflet redraws the list)
    function keys() {
      Array.prototype.forEach.call(doc.querySelectorAll('.leaflet-control-layers-overlays label'), function (label) {
        var group = data.points.filter(function (g) { return label.textContent.trim() === g.name; })[0];
        var text = label.querySelector('span span') || label.querySelector('span');
        if (!group || !text || label.querySelector('.gapmap-point-key')) { return; }
        var key = doc.createElement('span');
        key.className = 'gapmap-point-key';
        key.style.background = group.colour;
        key.setAttribute('aria-hidden', 'true');
        text.insertBefore(key, text.firstChild);
      });
    }
    keys();
    map.on('layeradd layerremove', function () { win.setTimeout(keys, 0); });
    setView(state.view);
    setDisplay(state.display);
    doc.documentElement.setAttribute('data-gapmap-ready', '1');
  }

  return {decodeRings: decodeRings, features: features, viewIndex: viewIndex, styleOf: styleOf,
          classLabel: classLabel, tooltipHtml: tooltipHtml, parseState: parseState, stateQuery: stateQuery,
          tableRows: tableRows, tableHtml: tableHtml, escapeHtml: escapeHtml, init: init};
});
