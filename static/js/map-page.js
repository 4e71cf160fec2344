/*
 * The map page's side panel: the page arrives without it (so the heading, the controls and the map
 * frame start at once) and its summary is fetched here from /map/panel while the map loads. If the
 * fetch fails the panel says so, in words, with a link that opens the page with the panel inline.
 * The panel is put in the page once the map has been drawn (the frame shares this page's one
 * thread, and laying out the panel's tables there would hold the map back), or after a few
 * seconds whatever the map does.
 */
(function () {
  'use strict';
  var box = document.getElementById('map-panel');
  if (!box || !box.getAttribute('data-src') || box.getAttribute('aria-busy') !== 'true') { return; }
  var frame = document.querySelector('iframe.map-frame'), waiting = [], drawn = !frame;

  function release() {
    drawn = true;
    waiting.splice(0).forEach(function (show) { show(); });
  }
  function mapDrawn() {  // the frame's load comes after its map is set up; two frames later it has been painted
    if (drawn) { return; }
    window.requestAnimationFrame(function () { window.requestAnimationFrame(release); });
  }
  if (frame) {
    frame.addEventListener('load', mapDrawn);
    try {  // loaded already (another origin's frame throws here: then its load event or the timeout)
      if (frame.contentDocument && frame.contentDocument.readyState === 'complete' &&
          frame.contentWindow.location.href !== 'about:blank') { mapDrawn(); }
    } catch (e) { /* not readable */ }
    window.setTimeout(release, 3000);
  }

  function whenDrawn(show) {
    if (drawn) { show(); } else { waiting.push(show); }
  }

  function failed(message) {
    box.innerHTML = '';
    var p = document.createElement('p');
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.textContent = 'The summary could not be loaded: ' + message + ' ';
    var again = document.createElement('a');
    again.href = window.location.href;
    again.textContent = 'Try again';
    p.appendChild(again);
    box.appendChild(p);
    box.setAttribute('aria-busy', 'false');
    document.documentElement.setAttribute('data-gapmap-panel', 'failed');
  }

  fetch(box.getAttribute('data-src'), {credentials: 'same-origin', headers: {Accept: 'text/html'}})
    .then(function (response) {
      return response.text().then(function (text) {
        if (response.ok) {
          whenDrawn(function () {
            box.innerHTML = text;  // this server's own template, escaped there
            box.setAttribute('aria-busy', 'false');
            document.documentElement.setAttribute('data-gapmap-panel', 'ready');
          });
          return;
        }
        // an error page from this server: its message says what was wrong
        var page = new DOMParser().parseFromString(text, 'text/html');
        var said = page.querySelector('.error');
        whenDrawn(function () { failed((said && said.textContent.trim()) || ('the server answered ' + response.status + '.')); });
      });
    })
    .catch(function () { whenDrawn(function () { failed('the server could not be reached.'); }); });
})();

/*
 * The map page around the map frame: when the map's state changes (view, layers, table), the frame
 * tells this page (postMessage, same origin only), and the page's address, its "Redraw" form, its
 * links and its embed code follow, so whatever is copied opens the same map.
 */
(function () {
  'use strict';
  var frame = document.querySelector('iframe.map-frame');
  if (!frame) { return; }
  var KEYS = ['view', 'layers', 'display'];

  function merge(target, query) {
    var from = new URLSearchParams(query), params = new URLSearchParams(target);
    KEYS.forEach(function (k) { if (from.has(k)) { params.set(k, from.get(k)); } else { params.delete(k); } });
    return params.toString();
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin || event.source !== frame.contentWindow) { return; }
    var message = event.data || {};
    if (message.type !== 'gapmap-state' || typeof message.query !== 'string') { return; }
    var from = new URLSearchParams(message.query);
    from.delete('display');  // the page itself shows the map; the table has its own link
    var query = merge(window.location.search, '?' + from.toString());
    window.history.replaceState(null, '', window.location.pathname + '?' + query + window.location.hash);
    document.querySelectorAll('form.keeps-state').forEach(function (form) {
      KEYS.forEach(function (k) {
        var input = form.querySelector('input[name="' + k + '"]');
        if (from.has(k)) {
          if (!input) {
            input = document.createElement('input');
            input.type = 'hidden';
            input.name = k;
            form.appendChild(input);
          }
          input.value = from.get(k);
        } else if (input) {
          input.remove();
        }
      });
    });
    document.querySelectorAll('a.keeps-state').forEach(function (a) {
      var url = new URL(a.href, window.location.href);
      var extra = new URLSearchParams(url.search).get('display');
      url.search = merge(url.search, '?' + from.toString());
      if (extra) { url.searchParams.set('display', extra); }
      a.href = url.toString();
    });
    var embed = document.getElementById('embed');
    if (embed) {
      embed.value = embed.value.replace(/src="([^"?]*)\?([^"]*)"/, function (all, path, old) {
        return 'src="' + path + '?' + merge('?' + old, '?' + from.toString()) + '"';
      });
    }
  });
})();
