// Live count on the alert queue: polls a small JSON endpoint; no framework needed.
(function () {
  "use strict";
  var target = document.getElementById("live-count");
  if (!target) { return; }
  var source = target.getAttribute("data-source");
  function refresh() {
    fetch(source, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) { return; }
        var total = 0, cap = counts["capped_at"], more = false;
        Object.keys(counts).forEach(function (k) {
          if (k === "capped_at") { return; }
          total += counts[k];
          if (cap && counts[k] >= cap) { more = true; }
        });
        var plus = more ? "+" : "";
        target.textContent = String(total) + plus + " (new " + counts["new"] +
          (cap && counts["new"] >= cap ? "+" : "") + ")";
      })
      .catch(function () { /* keep the last value; the next poll tries again */ });
  }
  refresh();
  setInterval(refresh, 5000);
}());
