/*
 * The upload form checks the chosen file before it is uploaded: the file (a CSV's first 256 KB,
 * or a workbook or Parquet file whole) goes to /upload/check, which says which columns it has;
 * the breakdowns it has are ticked, a wide file's kind chosen, and the row taken as the header
 * said. Submitting with a breakdown the file has left unticked shows a warning first: submit
 * again to upload without it. Without this script the form still works, and the report says
 * which breakdowns the file had but were not kept.
 */
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (!form) { return; }
  var fileInput = document.getElementById('file');
  var status = document.getElementById('file-check');
  var warning = document.getElementById('breakdown-warning');
  var wideSelect = document.getElementById('wide');
  var headerInput = document.getElementById('header_row');
  var CSV_SAMPLE = 256 * 1024;
  var WHOLE_LIMIT = 64 * 1024 * 1024;
  var found = {};  // breakdown -> the file's columns for it
  var warned = false;

  function words(name) { return name.replace(/_/g, ' '); }

  function boxes() {
    return Array.prototype.slice.call(form.querySelectorAll('input[data-breakdown]'));
  }

  function leftOut() {
    return boxes().filter(function (box) {
      return !box.checked && Object.prototype.hasOwnProperty.call(found, box.getAttribute('data-breakdown'));
    }).map(function (box) { return box.getAttribute('data-breakdown'); });
  }

  function showWarning() {
    var missing = leftOut();
    if (!missing.length) { warning.hidden = true; warning.textContent = ''; return false; }
    warning.textContent = 'The file has ' + missing.map(function (b) {
      return words(b) + ' (' + found[b].join(', ') + ')';
    }).join(' and ') + ', not ticked: the dataset will have no rates by ' + missing.map(words).join(' or ') +
      '. Tick it, or press "Upload and check" again to upload without it.';
    warning.hidden = false;
    return true;
  }

  function apply(answer) {
    found = answer.shape === 'records' ? (answer.breakdowns || {}) : {};
    boxes().forEach(function (box) {
      if (Object.prototype.hasOwnProperty.call(found, box.getAttribute('data-breakdown'))) { box.checked = true; }
    });
    var kinds = Object.keys(answer.wide || {});
    if (kinds.length && wideSelect && !wideSelect.value) { wideSelect.value = kinds[0]; }
    status.textContent = answer.message || '';
    warned = false;
    showWarning();
  }

  function check() {
    var file = fileInput.files && fileInput.files[0];
    found = {};
    if (!file) { return; }
    var csv = !/\.(xlsx|xlsm|parquet)$/i.test(file.name);
    if (!csv && file.size > WHOLE_LIMIT) {
      status.textContent = file.name + ' is too large to check before it is uploaded: tick its breakdowns yourself.';
      return;
    }
    var body = new FormData();
    body.append('file', csv ? file.slice(0, CSV_SAMPLE) : file, file.name);
    body.append('csrf_token', form.querySelector('input[name="csrf_token"]').value);
    if (headerInput && headerInput.value) { body.append('header_row', headerInput.value); }
    status.textContent = 'Checking ' + file.name + '...';
    fetch(status.getAttribute('data-check-url'),
          {method: 'POST', body: body, credentials: 'same-origin'})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.error) { status.textContent = answer.error; return; }
        apply(answer);
      })
      .catch(function () { status.textContent = 'The file could not be checked; it will be when you upload it.'; });
  }

  fileInput.addEventListener('change', check);
  if (headerInput) { headerInput.addEventListener('change', check); }
  boxes().forEach(function (box) {
    box.addEventListener('change', function () { warned = false; if (!warning.hidden) { showWarning(); } });
  });
  form.addEventListener('submit', function (event) {
    if (!warned && showWarning()) {
      warned = true;
      event.preventDefault();
      warning.scrollIntoView({block: 'center'});
    }
  });
}());
