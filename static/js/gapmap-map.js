/*
 * Gapmap's map page: draws the LSOAs, the point layers and the "Colour the LSOAs by" views from
 * the data the server puts in the page (<script type="application/json" id="gapmap-data">), keeps
 * the map's state (view, layers, table or map) in the address so a link or an embedded frame opens
 * the same map, and shows what the map shows as a table.
 *
 * The LSOAs of every map are drawn on one canvas (static/js/gapmap-canvas.js decodes the packed
 * rings), the point layers' markers are made when their layer is first shown.
 *
 * The pure parts (styles, labels, address state, table rows) are exported for node's test runner
 * (tests/js/); in a browser the module is window.Gapmap and runs itself once its document is parsed.
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.Gapmap = api;
    // once the document is parsed (its scripts have run; images need not have loaded)
    var start = function () {
      var element = root.document.getElementById('gapmap-data');
      if (element) { api.init(JSON.parse(element.textContent), root); }
    };
    if (root.document.readyState === 'loading') {
      root.document.addEventListener('DOMContentLoaded', start);
    } else {
      root.setTimeout(start, 0);
    }
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  /* LSOA codes sent as one prefix and the differences between their numbers (app/map_layers.py
     _packed_codes): E01000001, E01000002, ... rebuilt, zero-padded to `digits`. */
  function decodeCodes(codes) {
    var out = [], n = 0, pad = new Array(codes.digits + 1).join('0');
    for (var i = 0; i < codes.q.length; i++) {
      n += codes.q[i];
      var digits = String(n);
      out.push(codes.prefix + (pad + digits).slice(-Math.max(codes.digits, digits.length)));
    }
    return out;
  }

  /* The page's packed data with its code column rebuilt where it was sent compressed. */
  function unpack(packed) {
    if (packed.codes) {
      packed.columns.c = decodeCodes(packed.codes);
      delete packed.codes;
    }
    return packed;
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

  /* Each point layer's symbol (app/map_layers.py POINT_SYMBOLS names one per layer), drawn in a
     20 x 20 box: schools by kind a circle, square, diamond or triangle, GP practices a cross,
     hospitals a square with an H; white-edged so each shows on every class colour (`edge`: another
     edge, dark for points coloured by a value, whose palest class is near white). */
  var SHAPES = {
    circle: '<circle cx="10" cy="10" r="7"/>',
    square: '<rect x="3.5" y="3.5" width="13" height="13"/>',
    diamond: '<path d="M10 1.5L18.5 10 10 18.5 1.5 10z"/>',
    triangle: '<path d="M10 2L18.8 17.5H1.2z"/>',
    cross: '<path d="M7 2h6v5h5v6h-5v5H7v-5H2V7h5z"/>',
    hospital: '<rect x="2" y="2" width="16" height="16" rx="3"/>'
  };

  var VALUE_EDGE = '#212b32';

  function symbolSvg(symbol, colour, size, edge) {
    var shape = SHAPES[symbol] || SHAPES.circle;
    var mark = symbol === 'hospital' ?
      '<path d="M6.5 5.5v9M13.5 5.5v9M6.5 10h7" stroke="#ffffff" stroke-width="2.2" fill="none"/>' : '';
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20" width="' + size + '" height="' + size +
      '" aria-hidden="true" focusable="false"><g fill="' + escapeHtml(colour) + '" stroke="' + escapeHtml(edge || '#ffffff') +
      '" stroke-width="1.6">' +
      shape + '</g>' + mark + '</svg>';
  }

  /* A cluster's icon: its count on the layer's colour, the layer's symbol beside it (so clustered
     primary and secondary schools are told apart too). Sizes follow markercluster's own. */
  function clusterHtml(count, group) {
    return '<div style="background:' + escapeHtml(group.colour) + '"><span>' + count + '</span></div>' +
      '<span class="gapmap-cluster-symbol">' + symbolSvg(group.symbol, group.colour, 14) + '</span>';
  }

  function clusterSize(count) {
    return count < 10 ? 'small' : count < 100 ? 'medium' : 'large';
  }

  /* The legend of the point layers on the map: each layer's symbol and what it shows; a layer
     coloured by an indicator lists its classes (each class's colour on the layer's symbol). */
  function pointsLegendHtml(groups) {
    if (!groups.length) { return ''; }
    var items = groups.map(function (g) {
      var head = '<li>' + symbolSvg(g.symbol, g.colour, 16) + ' ' + escapeHtml(g.legend || g.name);
      if (!g.classes || !g.classes.length) { return head + '</li>'; }
      return head + '<ul>' + g.classes.map(function (c) {
        return '<li>' + symbolSvg(g.symbol, c[1], 14, VALUE_EDGE) + ' ' + escapeHtml(c[0]) + '</li>';
      }).join('') + '</ul></li>';
    });
    return '<h2 class="gapmap-legend-title">Points on the map</h2><ul class="gapmap-points-list">' + items.join('') + '</ul>';
  }

  /* Which boxes start folded on a frame of this size (pixels): the layer list when the frame is
     short or narrow (a laptop's map frame), the legend too when the frame is small (an embedded
     map), so the place stays in view; the reader opens either with one press. */
  function collapsedByDefault(width, height) {
    return {layers: height < 700 || width < 900, legend: height < 420 || width < 560};
  }

  /* The label on what a search found: its name and, where known, what the map shows there. */
  function foundHtml(found) {
    var lines = [];
    if (found.pin) { lines.push('<b>' + escapeHtml(found.pin.label) + '</b>'); }
    lines.push((found.pin ? 'in ' : '<b>') + escapeHtml(found.name) + (found.pin ? '' : '</b>'));
    if (found.detail) { lines.push(escapeHtml(found.detail)); }
    return lines.join('<br>');
  }

  /* Everything that needs a browser and Leaflet. */
  function init(data, win) {
    var doc = win.document, L = win.L;
    var map = win[data.map];
    unpack(data.packed);
    var overlays = data.overlays.map(function (o) { return {key: o.key, name: o.name, layer: win[o.layer]}; })
      .filter(function (o) { return o.layer; });
    var state = parseState(win.location.search, data.views, data.overlays);

    // one <main> landmark holding the title, the map and its table (screen readers find them there)
    var container = map.getContainer(), main = doc.createElement('main');
    main.className = 'gapmap-main';
    container.parentNode.insertBefore(main, container);
    ['.visually-hidden', '#gapmap-table'].forEach(function (s) { var e = doc.querySelector(s); if (e) { main.appendChild(e); } });
    main.insertBefore(container, main.querySelector('#gapmap-table'));  // Leaflet measures it again below
    var view = viewIndex(data.views, state.view);

    // the points of each point layer, each with its layer's symbol (schools clustered until street
    // zoom); a layer's markers are made when it is first shown (most start hidden)
    data.points.forEach(function (group) {
      var target = win[group.layer];
      if (group.clustered && target.options) {
        target.options.iconCreateFunction = function (cluster) {
          var n = cluster.getChildCount();
          return L.divIcon({html: clusterHtml(n, group), iconSize: L.point(40, 40),
                            className: 'marker-cluster gapmap-cluster marker-cluster-' + clusterSize(n)});
        };
      }
      var made = false;
      function make() {
        if (made) { return; }
        made = true;
        var size = group.row_colours ? 20 : 18;
        var markers = group.rows.map(function (r) {
          var colour = group.row_colours ? r[3] : group.colour;
          var marker = L.marker([r[0], r[1]], {keyboard: false, title: '', icon: L.divIcon({
            html: symbolSvg(group.symbol, colour, size, group.row_colours ? VALUE_EDGE : null), className: 'gapmap-symbol gapmap-symbol-' + group.symbol,
            iconSize: L.point(size, size)})});
          marker.bindTooltip(escapeHtml(r[2]));
          if (group.popup) {
            marker.bindPopup('<b>' + escapeHtml(r[2]) + '</b><br>' + escapeHtml(r[3]) + '<br>Pupils: ' +
              (r[4] === null ? 'not known' : r[4]) + '<br>Free school meals: ' +
              (r[5] === null ? 'not known' : r[5] + '%'));
          }
          return marker;
        });
        if (target.addLayers) { target.addLayers(markers); } else { markers.forEach(function (m) { target.addLayer(m); }); }
      }
      if (map.hasLayer(target)) {  // shown from the start (a practice dataset's own points)
        make();
      } else {  // as the layer is put on the map (before Leaflet gives it the map), so it is drawn once with all its markers
        var beforeAdd = target.beforeAdd;
        target.beforeAdd = function (m) { make(); return beforeAdd ? beforeAdd.call(this, m) : this; };
      }
    });

    // the LSOAs: one canvas drawn in bulk (static/js/gapmap-canvas.js), not a Leaflet path per LSOA
    var layer = win.GapmapCanvas.layer(L, data.packed, data.scale, {
      style: function (f) { return styleOf(f.properties, view, data); },
      tooltip: function (f) { return tooltipHtml(f.properties, data.labels); }
    }).addTo(map);
    layer.bringToBack();
    win.gapmapLsoas = layer;

    // fit the place (or the LSOA or ward found by search) to the frame as it is now, and again when
    // the frame changes size, until the reader moves the map themselves
    var moved = false, fitting = false;
    function fit() {
      fitting = true;
      // clear of the legends (left) and the layer list and the key to the points (right)
      var width = function (selector) {
        var e = doc.querySelector(selector);
        return e && e.getClientRects().length ? e.offsetWidth + 16 : 8;
      };
      var left = width('.gapmap-legends'), right = Math.max(width('.leaflet-control-layers'), width('.gapmap-points-key'));
      if (data.focus) {  // what a search found, in the middle of the map's free part
        map.fitBounds(data.focus, {maxZoom: 15, paddingTopLeft: [left, 8], paddingBottomRight: [right, 8], animate: false});
      } else {  // the place, clear of the boxes where that costs no zoom
        var bounds = layer.getBounds();
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

    // the legends (rendered by the server) and the key to the point layers shown, in one control at
    // the bottom left, above the scale; it folds to one button, and so does the layer list
    var folded = collapsedByDefault(container.clientWidth, container.clientHeight), foldButtons = {};
    var legends = L.control({position: 'bottomleft'});
    var pointsKey;
    legends.onAdd = function () {
      var div = L.DomUtil.create('div', 'gapmap-legends');
      var body = L.DomUtil.create('div', 'gapmap-legends-body', div);
      body.id = 'gapmap-legends-body';
      Array.prototype.forEach.call(doc.querySelectorAll('.gapmap-legend'), function (el) { body.appendChild(el); });
      div.insertBefore(foldButton(div, [body], 'legend', folded.legend), body);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legends.addTo(map);
    // the key to the point layers shown, at the bottom right (free of the legend's height)
    var key = L.control({position: 'bottomright'});
    key.onAdd = function () {
      pointsKey = L.DomUtil.create('div', 'gapmap-points-key');
      pointsKey.setAttribute('role', 'region');
      pointsKey.setAttribute('aria-label', 'Legend: points on the map');
      L.DomEvent.disableClickPropagation(pointsKey);
      L.DomEvent.disableScrollPropagation(pointsKey);
      return pointsKey;
    };
    key.addTo(map);
    // the legend never reaches the "Colour the LSOAs by" box above it: on a short frame it scrolls
    // within itself below that box
    function boundLegend() {
      var body = doc.getElementById('gapmap-legends-body'), above = doc.querySelector('.gapmap-views');
      var fold = doc.querySelector('.gapmap-legends .gapmap-fold'), scale = doc.querySelector('.leaflet-control-scale');
      if (!body || !above) { return; }
      var room = container.clientHeight - above.getBoundingClientRect().bottom - (fold ? fold.offsetHeight : 0) -
        (scale ? scale.offsetHeight + 10 : 0) - 24;
      body.style.maxHeight = Math.max(80, room) + 'px';
    }
    boundLegend();
    map.on('resize', boundLegend);
    var layerList = doc.querySelector('.leaflet-control-layers');
    if (layerList) {
      var list = layerList.querySelector('.leaflet-control-layers-list');
      list.id = 'gapmap-layer-list';
      layerList.insertBefore(foldButton(layerList, [list], 'layers', folded.layers), layerList.firstChild);
    }

    // a button that folds a box to itself and opens it again, saying which it does; `bodies`: what
    // it hides (the legend's button hides the key to the points too)
    function foldButton(box, bodies, what, startFolded) {
      var button = doc.createElement('button');
      button.type = 'button';
      button.className = 'gapmap-fold';
      button.setAttribute('aria-controls', bodies.map(function (b) { return b.id; }).join(' '));
      button.setAttribute('data-fold', what);
      button.folded = startFolded;
      button.bodies = bodies;
      button.set = function (isFolded) {
        button.folded = isFolded;
        L.DomUtil[isFolded ? 'addClass' : 'removeClass'](box, 'gapmap-folded');
        button.bodies.forEach(function (b) { b.hidden = isFolded || b.empty === true; });
        button.setAttribute('aria-expanded', isFolded ? 'false' : 'true');
        button.textContent = (isFolded ? 'Show ' : 'Hide ') + (what === 'legend' ? 'the legend' : 'the layers');
      };
      button.addEventListener('click', function () { button.set(!button.folded); });
      button.set(startFolded);
      foldButtons[what] = button;
      return button;
    }

    pointsKey.id = 'gapmap-points-key';
    foldButtons.legend.bodies.push(pointsKey);
    foldButtons.legend.setAttribute('aria-controls', 'gapmap-legends-body gapmap-points-key');
    function showPointsKey() {
      var shown = data.points.filter(function (g) { return win[g.layer] && map.hasLayer(win[g.layer]); });
      pointsKey.innerHTML = pointsLegendHtml(shown);
      pointsKey.empty = !shown.length;
      pointsKey.hidden = pointsKey.empty || foldButtons.legend.folded;
    }
    showPointsKey();
    // the legends and the table were in the page's flow until now (a scroll bar, a taller page):
    // Leaflet measures the frame again, so every layer is drawn over all of it (and the place is
    // fitted to it once the layers the address asks for are on: each fit measures the page)
    map.invalidateSize({pan: false});

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

    function setView(key, quiet) {  // quiet: the caller publishes the state
      view = Math.max(0, viewIndex(data.views, key));
      state.view = data.views[view].key;
      layer.setStyle(function (f) { return styleOf(f.properties, view, data); });
      Array.prototype.forEach.call(doc.querySelectorAll('.gapmap-legend'), function (el) {
        el.hidden = el.getAttribute('data-view') !== state.view;
      });
      doc.getElementById('gapmap-view').value = state.view;
      if (!quiet) {
        renderTable();
        publish();
      }
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
    showPointsKey();
    fit();  // clear of the legends, the layer list and the key to the points the address asked for
    map.on('overlayadd overlayremove', function () { publish(); showPointsKey(); });
    // what the search found, named on the map: a label on its pin, or on the LSOA or ward outlined
    if (data.found) {
      var at = data.found.pin ? data.found.pin.at : data.found.at;
      var label = L.tooltip({permanent: true, direction: 'top', offset: data.found.pin ? [0, -40] : [0, -6],
                             className: 'gapmap-found-label', interactive: false})
        .setLatLng(at).setContent(foundHtml(data.found));
      var foundLayer = overlays.filter(function (o) { return o.key === 'found'; })[0];
      var showLabel = function () {
        if (!foundLayer || map.hasLayer(foundLayer.layer)) { map.openTooltip(label); } else { map.closeTooltip(label); }
      };
      map.on('overlayadd overlayremove', showLabel);
      showLabel();
    }
    // the layer list shows each point layer's symbol, the key to its markers (again whenever
    // Leaflet redraws the list)
    function keys() {
      Array.prototype.forEach.call(doc.querySelectorAll('.leaflet-control-layers-overlays label'), function (label) {
        var group = data.points.filter(function (g) { return label.textContent.trim() === g.name; })[0];
        var text = label.querySelector('span span') || label.querySelector('span');
        if (!group || !text || label.querySelector('.gapmap-point-key')) { return; }
        var key = doc.createElement('span');
        key.className = 'gapmap-point-key';
        key.innerHTML = symbolSvg(group.symbol, group.colour, 14);
        text.insertBefore(key, text.firstChild);
      });
    }
    keys();
    map.on('layeradd layerremove', function () { win.setTimeout(keys, 0); });
    setView(state.view, true);
    setDisplay(state.display);  // the table (if shown) made and the state published once
    doc.documentElement.setAttribute('data-gapmap-ready', '1');
  }

  return {decodeCodes: decodeCodes, unpack: unpack, viewIndex: viewIndex, styleOf: styleOf,
          classLabel: classLabel, tooltipHtml: tooltipHtml, parseState: parseState, stateQuery: stateQuery,
          tableRows: tableRows, tableHtml: tableHtml, escapeHtml: escapeHtml, symbolSvg: symbolSvg,
          clusterHtml: clusterHtml, clusterSize: clusterSize, pointsLegendHtml: pointsLegendHtml,
          collapsedByDefault: collapsedByDefault, foundHtml: foundHtml, init: init};
});
