// Check an exercise in place: the same request as the plain form (the server checks the answer
// and renders the feedback), with only the exercise sent back. Without fetch, the form posts
// the whole page as it does with JavaScript off.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData || !document.addEventListener) return;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("exercise")) return;
    event.preventDefault();
    var data = new FormData(form);
    var button = event.submitter;
    if (button && button.name) data.append(button.name, button.value);
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "X-Exercise": "fragment" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.text();
    }).then(function (html) {
      if (!html) throw new Error("empty");
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var fresh = holder.firstElementChild;
      form.parentNode.replaceChild(fresh, form);
      var status = fresh.querySelector(".feedback");
      if (status) {
        status.setAttribute("tabindex", "-1");
        status.focus();
      }
    }).catch(function () {
      form.submit(); // the page round trip still works
    });
  });
})();
