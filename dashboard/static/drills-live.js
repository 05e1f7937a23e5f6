// Live injects on the exercise page: polls a server-rendered fragment every few seconds, so a
// player sees each inject for their role as it arrives without reloading (and without losing
// what they are typing in the form below it).
(function () {
  "use strict";
  var target = document.getElementById("live-injects");
  if (!target) { return; }
  var source = target.getAttribute("data-source");
  var last = target.innerHTML;
  function refresh() {
    fetch(source, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || html === last) { return; }
        last = html;
        target.innerHTML = html;  // rendered by the server with autoescaping
      })
      .catch(function () { /* keep what is shown; the next poll tries again */ });
  }
  setInterval(refresh, 3000);
}());
