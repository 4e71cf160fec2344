// node --test tests/js/ : the point symbols, the key to the points, the cluster icons, the default
// folding of the legend and the layer list, and the label on what a search found
// (static/js/gapmap-map.js), with data shaped as app/map_layers.py writes it.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const Gapmap = require(path.join(__dirname, '..', '..', 'static', 'js', 'gapmap-map.js'));

const SYMBOLS = ['circle', 'square', 'diamond', 'triangle', 'cross', 'hospital'];

function shapeOf(svg) {  // the markup inside the coloured group: the shape itself
  return svg.match(/<g [^>]*>(.*?)<\/g>/)[1];
}

test('each symbol is its own shape, in the colour asked for, at the size asked for', () => {
  const shapes = SYMBOLS.map((s) => shapeOf(Gapmap.symbolSvg(s, '#005eb8', 16)));
  assert.equal(new Set(shapes).size, SYMBOLS.length);
  const svg = Gapmap.symbolSvg('square', '#7c2855', 18);
  assert.match(svg, /<g fill="#7c2855" stroke="#ffffff"/);
  assert.match(svg, /width="18" height="18"/);
  assert.match(svg, /aria-hidden="true"/);
  assert.match(Gapmap.symbolSvg('hospital', '#da291c', 16), /M6.5 5.5v9M13.5 5.5v9M6.5 10h7/);  // the H
  assert.equal(shapeOf(Gapmap.symbolSvg('no-such-shape', '#000000', 16)), shapes[0]);  // a circle by default
});

test('a colour cannot break out of its attribute', () => {
  assert.doesNotMatch(Gapmap.symbolSvg('circle', '"><script>', 16), /<script>/);
});

test('the key lists each layer shown with its symbol, and a layer coloured by an indicator with its classes', () => {
  assert.equal(Gapmap.pointsLegendHtml([]), '');
  const html = Gapmap.pointsLegendHtml([
    {name: 'Schools: primary', legend: 'Primary schools (state-funded)', symbol: 'circle', colour: '#005eb8'},
    {name: 'GP practices: this indicator', legend: 'GP practices, coloured by this indicator', symbol: 'cross',
     colour: '#2c7fb8', classes: [['40.0 to 55.0', '#a1dab4'], ['55.0 to 70.0', '#2c7fb8']]}]);
  assert.match(html, /Points on the map/);
  assert.match(html, /circle cx="10".*Primary schools \(state-funded\)/);
  assert.match(html, /GP practices, coloured by this indicator<ul>/);
  assert.match(html, /fill="#a1dab4".*40\.0 to 55\.0.*fill="#2c7fb8".*55\.0 to 70\.0/);
  assert.equal((html.match(/<svg/g) || []).length, 4);  // two layers, two classes
});

test('a cluster shows its count on its layer colour, with its layer symbol', () => {
  const html = Gapmap.clusterHtml(12, {symbol: 'diamond', colour: '#ed8b00'});
  assert.match(html, /^<div style="background:#ed8b00"><span>12<\/span><\/div>/);
  assert.match(html, /gapmap-cluster-symbol.*M10 1.5L18.5 10/);
  assert.deepEqual([1, 9, 10, 99, 100].map(Gapmap.clusterSize), ['small', 'small', 'medium', 'medium', 'large']);
});

test('the layer list starts folded on a laptop frame, the legend only on a small embedded frame', () => {
  assert.deepEqual(Gapmap.collapsedByDefault(976, 630), {layers: true, legend: false});  // 1366 x 768 page
  assert.deepEqual(Gapmap.collapsedByDefault(1500, 900), {layers: false, legend: false});  // 1920 x 1080 page
  assert.deepEqual(Gapmap.collapsedByDefault(1366, 768), {layers: false, legend: false});  // the frame alone
  assert.deepEqual(Gapmap.collapsedByDefault(480, 360), {layers: true, legend: true});  // an intranet tile
  assert.deepEqual(Gapmap.collapsedByDefault(850, 800), {layers: true, legend: false});  // narrow
});

test('what a search found is named: the pin, the LSOA it is in and its value', () => {
  assert.equal(Gapmap.foundHtml({name: 'Bedford 012A', detail: 'LSOA E01017466: 10,234', at: [52.1, -0.46]}),
    '<b>Bedford 012A</b><br>LSOA E01017466: 10,234');
  assert.equal(Gapmap.foundHtml({name: 'Bedford 015A', detail: 'LSOA E01017472: Suppressed (small count)',
                                 pin: {label: 'Shackleton Primary School (school)', at: [52.1, -0.45]}}),
    '<b>Shackleton Primary School (school)</b><br>in Bedford 015A<br>LSOA E01017472: Suppressed (small count)');
  assert.equal(Gapmap.foundHtml({name: 'Ward <x>', detail: null}), '<b>Ward &lt;x&gt;</b>');
});

test('points coloured by a value get a dark edge, so the palest class shows on pale fills', () => {
  assert.match(Gapmap.symbolSvg('cross', '#f0f9e8', 16, '#212b32'), /fill="#f0f9e8" stroke="#212b32"/);
  const html = Gapmap.pointsLegendHtml([{name: 'GP practices: this indicator', legend: 'GP practices', symbol: 'cross',
                                         colour: '#2c7fb8', classes: [['1 to 2', '#f0f9e8']]}]);
  assert.match(html, /fill="#f0f9e8" stroke="#212b32"/);
});
