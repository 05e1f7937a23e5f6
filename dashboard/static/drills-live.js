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
        offer(target.querySelectorAll("li[data-inject]"));
      })
      .catch(function () { /* keep what is shown; the next poll tries again */ });
  }
  // New injects also become choices in the form's "about inject" list.
  function offer(items) {
    var select = document.querySelector('select[name="inject"]');
    if (!select) { return; }
    items.forEach(function (item) {
      var id = item.getAttribute("data-inject");
      if (select.querySelector('option[value="' + id + '"]')) { return; }
      var option = document.createElement("option");
      option.value = id;
      option.textContent = id + " · " + item.getAttribute("data-title");
      select.appendChild(option);
    });
  }
  setInterval(refresh, 3000);
}());
