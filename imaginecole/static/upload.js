/* Send the ZIP of the upload form in pieces of 1 MiB, with a progress bar. A dropped
   connection costs one piece: the page asks the server how much it holds and carries on.
   The piece number is kept with the file's name, size and date in localStorage, so choosing
   the same file again after a reload resumes too. Without this script, or on a browser too
   old for it, the form is sent whole, as a plain form. Written for old Android browsers:
   no framework, no promises, XMLHttpRequest and Blob.slice only. */
(function () {
  "use strict";
  var form = document.getElementById("zip-upload");
  if (!form || !window.XMLHttpRequest || !window.Blob || !window.JSON) { return; }
  var input = form.querySelector('input[type="file"]');
  var slice = window.Blob.prototype.slice || window.Blob.prototype.webkitSlice;
  if (!input || !input.files || !slice) { return; }

  var store = null;
  try {
    window.localStorage.setItem("imaginecole-probe", "1");
    window.localStorage.removeItem("imaginecole-probe");
    store = window.localStorage;
  } catch (error) {
    store = null; /* private browsing: uploads still resume, only not across a reload */
  }

  var FORM_TYPE = "application/x-www-form-urlencoded";
  var chunkSize = parseInt(form.getAttribute("data-chunk-size"), 10) || 1048576;
  var csrf = form.querySelector('input[name="csrf_token"]').value;
  var bar = document.getElementById("upload-progress");
  var statusLine = document.getElementById("upload-status");
  var button = form.querySelector('button[type="submit"]');
  var prefix = "imaginecole-upload:" + form.getAttribute("data-country") + ":";
  var busy = false;
  var delay = 0;

  function message(name, values) {
    var text = form.getAttribute("data-msg-" + name) || "";
    for (var key in values) {
      if (Object.prototype.hasOwnProperty.call(values, key)) {
        text = text.split("{" + key + "}").join(String(values[key]));
      }
    }
    return text;
  }

  function say(text) { statusLine.textContent = text; }

  function address(kind, token) {
    return form.getAttribute("data-" + kind + "-url").replace("__token__", encodeURIComponent(token));
  }

  function megabytes(bytes) { return (bytes / 1000000).toFixed(1); }

  function encode(fields) {
    var parts = [];
    for (var i = 0; i < fields.length; i++) {
      parts.push(encodeURIComponent(fields[i][0]) + "=" + encodeURIComponent(fields[i][1]));
    }
    return parts.join("&");
  }

  /* Every field of the form but the file: the course settings go with "finish". */
  function otherFields() {
    var fields = [];
    for (var i = 0; i < form.elements.length; i++) {
      var field = form.elements[i];
      if (!field.name || field.disabled || field.type === "file" || field.type === "submit") { continue; }
      if ((field.type === "checkbox" || field.type === "radio") && !field.checked) { continue; }
      if (field.type === "select-multiple") {  /* its value is only the first chosen */
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].selected) { fields.push([field.name, field.options[j].value]); }
        }
        continue;
      }
      fields.push([field.name, field.value]);
    }
    return fields;
  }

  function send(method, url, body, type, done, progress) {
    var request = new XMLHttpRequest();
    request.open(method, url, true);
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.setRequestHeader("Accept", "application/json");
    if (type) { request.setRequestHeader("Content-Type", type); }
    if (progress && request.upload) { request.upload.onprogress = progress; }
    request.onreadystatechange = function () {
      if (request.readyState !== 4) { return; }
      var data = null;
      try { data = JSON.parse(request.responseText); } catch (error) { data = null; }
      done(request.status, data);
    };
    request.send(body);
  }

  function lost(status) { return status === 0 || status >= 500; }

  function retry(again) {
    delay = Math.min(delay ? delay * 2 : 2, 30);
    say(message("retry", { seconds: delay }));
    window.setTimeout(again, delay * 1000);
  }

  function fail(data) {
    busy = false;
    button.disabled = false;
    bar.hidden = true;
    say((data && data.message ? data.message + " " : "") + message("failed"));
  }

  function finished(key, url) {
    if (store) { store.removeItem(key); }
    window.location.href = url;
  }

  function fileKey(file) { return prefix + file.name + ":" + file.size + ":" + (file.lastModified || 0); }

  function begin(file) {
    var key = fileKey(file);
    var token = store ? store.getItem(key) : null;
    busy = true;
    button.disabled = true;
    bar.hidden = false;
    bar.max = file.size;
    bar.value = 0;
    if (token) { resume(file, key, token, true); } else { start(file, key); }
  }

  function start(file, key) {
    var body = encode([["name", file.name], ["size", file.size], ["last_modified", file.lastModified || 0]]);
    send("POST", form.getAttribute("data-start-url"), body, FORM_TYPE, function (status, data) {
      if (status === 201 && data && data.token) {
        if (store) { store.setItem(key, data.token); }
        upload(file, key, data.token, 0);
      } else if (lost(status)) {
        retry(function () { start(file, key); });
      } else {
        fail(data);
      }
    });
  }

  /* Ask the server how much of the file it holds, and go on from there. */
  function resume(file, key, token, fresh) {
    send("GET", address("status", token), null, null, function (status, data) {
      if (status === 200 && data && data.total === file.size) {
        if (data.report_url) { finished(key, data.report_url); } else { upload(file, key, token, data.size); }
      } else if (lost(status)) {
        retry(function () { resume(file, key, token, fresh); });
      } else if (fresh) {
        /* Expired on the server, or another file: start again. */
        if (store) { store.removeItem(key); }
        start(file, key);
      } else {
        if (store) { store.removeItem(key); }
        fail(data);
      }
    });
  }

  function upload(file, key, token, offset) {
    if (offset >= file.size) { finish(file, key, token); return; }
    var piece = slice.call(file, offset, Math.min(offset + chunkSize, file.size));
    bar.value = offset;
    say(message("sending", { done: megabytes(offset), total: megabytes(file.size) }));
    send("POST", address("chunk", token) + "?offset=" + offset, piece, "application/octet-stream",
      function (status, data) {
        var known = data && typeof data.size === "number";
        if (status === 200 && known) {
          delay = 0;
          upload(file, key, token, data.size);
        } else if (status === 409 && known && data.error !== "busy") {
          upload(file, key, token, data.size); /* the server holds another size: go on from it */
        } else if (lost(status) || status === 409) {
          retry(function () { resume(file, key, token, false); });
        } else {
          fail(data);
        }
      },
      function (event) { if (event.lengthComputable) { bar.value = offset + event.loaded; } });
  }

  function finish(file, key, token) {
    bar.value = file.size;
    say(message("checking"));
    send("POST", address("finish", token), encode(otherFields()), FORM_TYPE, function (status, data) {
      if (status === 200 && data && data.report_url) {
        finished(key, data.report_url);
      } else if (status === 409 && data && data.error === "incomplete") {
        upload(file, key, token, data.size);
      } else if (lost(status) || status === 409) {
        retry(function () { resume(file, key, token, false); });
      } else {
        fail(data);
      }
    });
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (busy) { event.preventDefault(); return; }
    if (!file) { return; } /* the browser or the server says a file is needed */
    event.preventDefault();
    begin(file);
  }, false);

  /* After a reload the browser has forgotten the file: say which one can resume. */
  if (store) {
    for (var i = 0; i < store.length; i++) {
      var name = store.key(i);
      if (name && name.indexOf(prefix) === 0) {
        say(message("resume", { name: name.slice(prefix.length).split(":").slice(0, -2).join(":") }));
        break;
      }
    }
  }
})();
