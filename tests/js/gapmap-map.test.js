// node --test tests/js/ : the pure parts of static/js/gapmap-map.js (view switching, the address
// state, the table view) and of static/js/gapmap-canvas.js (ring decoding, dash patterns), with data
// shaped as app/map_layers.py writes it.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const Gapmap = require(path.join(__dirname, '..', '..', 'static', 'js', 'gapmap-map.js'));
const GapmapCanvas = require(path.join(__dirname, '..', '..', 'static', 'js', 'gapmap-canvas.js'));

// a unit square at (0.1, 51.2) and a triangle with a hole, coordinates times 10^4, delta-encoded:
// the first point of each ring absolute, the rest differences from the point before
const square = [[[1000, 512000, 1000, 0, 0, 1000, -1000, 0, 0, -1000]]];
const withHole = [[[0, 0, 100, 0, -50, 100, -50, -100], [40, 20, 20, 0, -10, 20, -10, -20]]];

// the projected rings as the points they were: each world (x, y) pair back to [lon, lat]
function lonLats(ring) {
  const out = [];
  for (let i = 0; i < ring.length; i += 2) {
    const lat = (2 * Math.atan(Math.exp((0.5 - ring[i + 1]) * 2 * Math.PI)) - Math.PI / 2) * 180 / Math.PI;
    out.push([(ring[i] - 0.5) * 360, lat]);
  }
  return out;
}

function near(got, want) {
  assert.equal(got.length, want.length);
  got.forEach((p, i) => { assert.ok(Math.abs(p[0] - want[i][0]) < 1e-9 && Math.abs(p[1] - want[i][1]) < 1e-9, `${p} != ${want[i]}`); });
}

test('the canvas layer undoes the delta encoding and the scale', () => {
  const one = (parts, scale) => GapmapCanvas.project({columns: {}, rings: [parts]}, scale)[0].rings.map(lonLats);
  near(one(square, 1e4)[0], [[0.1, 51.2], [0.2, 51.2], [0.2, 51.3], [0.1, 51.3], [0.1, 51.2]]);
  const rings = one(withHole, 100);
  near(rings[0], [[0, 0], [1, 0], [0.5, 1], [0, 0]]);
  near(rings[1], [[0.4, 0.2], [0.6, 0.2], [0.5, 0.4], [0.4, 0.2]]);  // each ring restarts
  assert.deepEqual(rings[1][0], rings[1][rings[1].length - 1]);  // closed
});

test('the canvas layer keeps a multipolygon\'s parts as rings of one shape', () => {
  const shapes = GapmapCanvas.project({columns: {}, rings: [[[[0, 0, 1, 0, 0, 1, -1, -1]], [[10, 10, 1, 0, 0, 1, -1, -1]]]]}, 1);
  assert.equal(shapes.length, 1);
  assert.equal(shapes[0].rings.length, 2);
  near(lonLats(shapes[0].rings[1]).slice(0, 1), [[10, 10]]);
});

test('a dashArray becomes the canvas line dash: "No data" outlines dashed, others solid', () => {
  assert.deepEqual(GapmapCanvas.dashes('3 3'), [3, 3]);
  assert.deepEqual(GapmapCanvas.dashes('5, 10'), [5, 10]);
  assert.deepEqual(GapmapCanvas.dashes(null), []);
});

function sample() {
  const packed = {columns: {c: ['E01000001', 'E01000002', 'E01000003'], v: ['1.5', '7', 'No data'],
                            f0: [0, 1, null], f1: [1, null, 0]},
                  rings: [square, square, withHole]};
  const data = {views: [{key: 'main', name: 'Score', palette: ['#aaaaaa', '#222222'], labels: ['Low', 'High']},
                        {key: 'hot', name: 'Gi* hot and cold spots', palette: ['#2166ac', '#b2182b'],
                         labels: ['Cold spot', 'Hot spot']}],
                nodata: '#969696', nodataLabel: 'No data', stroke: 0.4, labels: {c: 'Code', v: 'Score'},
                title: 'Score'};
  return {packed, data};
}

function properties(packed) {
  return GapmapCanvas.project(packed, 1e4).map((s) => s.feature.properties);
}

test('the canvas layer makes one feature per LSOA with its columns', () => {
  const {packed} = sample();
  const shapes = GapmapCanvas.project(packed, 1e4);
  assert.equal(shapes.length, 3);
  assert.deepEqual(shapes[2].feature.properties, {c: 'E01000003', v: 'No data', f0: null, f1: 0});
  assert.equal(shapes[2].rings.length, 2);  // the outer ring and its hole
});

test('switching view restyles each LSOA with that view\'s class colour, No data dashed', () => {
  const {packed, data} = sample();
  const p = properties(packed);
  assert.deepEqual(p.map((x) => Gapmap.styleOf(x, 0, data).fillColor), ['#aaaaaa', '#222222', '#969696']);
  assert.deepEqual(p.map((x) => Gapmap.styleOf(x, 1, data).fillColor), ['#b2182b', '#969696', '#2166ac']);
  assert.equal(Gapmap.styleOf(p[2], 0, data).dashArray, '3 3');
  assert.equal(Gapmap.styleOf(p[0], 0, data).dashArray, null);
  assert.deepEqual(p.map((x) => Gapmap.classLabel(x, 1, data)), ['Hot spot', 'No data', 'Cold spot']);
  assert.equal(Gapmap.viewIndex(data.views, 'hot'), 1);
  assert.equal(Gapmap.viewIndex(data.views, 'nope'), -1);
});

test('the address holds the view, layers and display, and keeps every other parameter', () => {
  const {data} = sample();
  const overlays = [{key: 'wards'}, {key: 'gps'}, {key: 'schools-primary'}];
  const search = '?icb=E54000024&indicator=imd_score&scheme=fisher_jenks&k=7';
  assert.deepEqual(Gapmap.parseState(search, data.views, overlays), {view: 'main', layers: null, display: 'map'});
  const state = {view: 'hot', layers: ['wards', 'schools-primary'], display: 'table'};
  const query = Gapmap.stateQuery(search, state);
  const params = new URLSearchParams(query);
  assert.equal(params.get('icb'), 'E54000024');
  assert.equal(params.get('scheme'), 'fisher_jenks');
  assert.equal(params.get('k'), '7');
  assert.deepEqual(Gapmap.parseState(query, data.views, overlays), state);  // round trip
  // unknown view or layers are dropped, not obeyed
  assert.deepEqual(Gapmap.parseState('?view=evil&layers=gps,nope,', data.views, overlays),
    {view: 'main', layers: ['gps'], display: 'map'});
  assert.deepEqual(Gapmap.parseState('?layers=', data.views, overlays).layers, []);  // all switched off
  assert.equal(new URLSearchParams(Gapmap.stateQuery(query, {view: 'main', layers: [], display: 'map'})).has('display'),
    false);
});

test('the table view lists every LSOA with what the current view shows, escaped', () => {
  const {packed, data} = sample();
  packed.columns.c[0] = '<b>E01000001</b>';
  const rows = Gapmap.tableRows(packed, 1, data);
  assert.deepEqual(rows.map((r) => r.label), ['Hot spot', 'No data', 'Cold spot']);
  const html = Gapmap.tableHtml(rows, data, 1);
  assert.match(html, /<caption>Score: Gi\* hot and cold spots \(3 LSOAs\)<\/caption>/);
  assert.match(html, /<th scope="col">Score<\/th>/);
  assert.ok(html.includes('&lt;b&gt;E01000001&lt;/b&gt;') && !html.includes('<b>E01'));
  assert.equal((html.match(/<tr>/g) || []).length, 4);  // header and three LSOAs
});

test('the tooltip shows readable labels, never raw keys, and escapes values', () => {
  const {data} = sample();
  const html = Gapmap.tooltipHtml({c: 'E01000001', v: '<script>', f0: 1}, data.labels);
  assert.ok(html.includes('<th scope="row">Code</th>') && html.includes('<th scope="row">Score</th>'));
  assert.ok(!html.includes('f0') && html.includes('&lt;script&gt;'));
});

test('England-sized maps outline each LSOA in its own colour so sub-pixel LSOAs still show', () => {
  const {packed, data} = sample();
  data.compact = true;
  data.stroke = 0.8;
  const p = properties(packed);
  assert.deepEqual(p.map((x) => Gapmap.styleOf(x, 0, data).color), ['#aaaaaa', '#222222', '#969696']);
  assert.ok(p.every((x) => Gapmap.styleOf(x, 0, data).weight > 0));
});

test('decodeCodes rebuilds the LSOA codes from their prefix and differences, zero-padded', () => {
  assert.deepEqual(Gapmap.decodeCodes({prefix: 'E01', digits: 6, q: [1, 1, 998, 33000]}),
    ['E01000001', 'E01000002', 'E01001000', 'E01034000']);
  const packed = Gapmap.unpack({columns: {v: ['1', '2']}, codes: {prefix: 'E01', digits: 6, q: [35672, 1]},
    rings: [[], []]});
  assert.deepEqual(packed.columns.c, ['E01035672', 'E01035673']);
  assert.equal(packed.codes, undefined);
  const plain = {columns: {c: ['W01000001']}, rings: [[]]};
  assert.equal(Gapmap.unpack(plain), plain);  // sent as they are: left alone
  assert.deepEqual(plain.columns.c, ['W01000001']);
});
