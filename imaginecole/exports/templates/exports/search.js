/* The search page of an exported folder: no server, no request. The index is a script beside
   this one (search-index.js, window.IMAGINECOLE_SEARCH), loaded by a <script> tag since
   browsers refuse fetch() on file:// addresses. Words are folded as the export folded them:
   lower case, no accents or Arabic short vowels, French elisions dropped (l', d', qu'…); each
   word typed is the start of a word of the lesson, and a lesson must have them all. */
(function () {
  "use strict";
  var index = window.IMAGINECOLE_SEARCH;
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var script = document.getElementById("search-script");
  if (!index || !form || !input) { return; }
  form.hidden = false;

  var ELISION = /(^|[^a-z])(?:c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)['\u2019]/g;
  var MARKS = /[\u0300-\u036f\u064b-\u065f\u0670]/g;
  var WORD = /[0-9a-z\u00c0-\u024f\u0600-\u06ff]+/g;
  var MAX_RESULTS = 50;

  function words(text) {
    var folded = text.toLowerCase().replace(ELISION, "$1");
    if (folded.normalize) { folded = folded.normalize("NFKD"); }
    return folded.replace(MARKS, "").match(WORD) || [];
  }

  function firstAtLeast(prefix) {
    var low = 0, high = index.terms.length;
    while (low < high) {
      var middle = (low + high) >> 1;
      if (index.terms[middle] < prefix) { low = middle + 1; } else { high = middle; }
    }
    return low;
  }

  function documentsStartingWith(prefix) {
    var found = {};
    for (var i = firstAtLeast(prefix); i < index.terms.length; i++) {
      if (index.terms[i].lastIndexOf(prefix, 0) !== 0) { break; }
      var postings = index.postings[i];
      for (var j = 0; j < postings.length; j++) { found[postings[j]] = true; }
    }
    return found;
  }

  function search(query) {
    var typed = words(query), matched = null;
    for (var i = 0; i < typed.length; i++) {
      var found = documentsStartingWith(typed[i]);
      if (matched === null) { matched = found; continue; }
      for (var doc in matched) { if (!found[doc]) { delete matched[doc]; } }
    }
    var ids = [];
    for (var id in matched || {}) { ids.push(+id); }
    // Pages whose title holds the words first, then the order of the home page.
    function titleHits(id) {
      var title = words(index.docs[id][1]).join(" "), hits = 0;
      for (var k = 0; k < typed.length; k++) { if (title.indexOf(typed[k]) >= 0) { hits++; } }
      return hits;
    }
    ids.sort(function (a, b) { return (titleHits(b) - titleHits(a)) || (a - b); });
    return typed.length ? ids : null;
  }

  function show(query) {
    var ids = search(query);
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (ids === null) { status.textContent = ""; return; }
    status.textContent = ids.length
      ? script.getAttribute("data-found").replace("{n}", ids.length)
      : script.getAttribute("data-none");
    for (var i = 0; i < ids.length && i < MAX_RESULTS; i++) {
      var doc = index.docs[ids[i]], item = document.createElement("li"), a = document.createElement("a");
      a.href = doc[0];
      a.textContent = doc[1];
      item.appendChild(a);
      if (doc[2]) {
        var context = document.createElement("p");
        context.className = "meta";
        context.textContent = doc[2];
        item.appendChild(context);
      }
      list.appendChild(item);
    }
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); show(input.value); });
  input.addEventListener("input", function () { show(input.value); });
  var asked = /[?&]q=([^&]*)/.exec(window.location.search);
  if (asked) {
    input.value = decodeURIComponent(asked[1].replace(/\+/g, " "));
    show(input.value);
  }
})();
