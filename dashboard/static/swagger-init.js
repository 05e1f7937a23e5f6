// Starts the vendored Swagger UI on /docs (a file, not inline: the CSP admits no inline script).
(function () {
  "use strict";
  var target = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: target.getAttribute("data-spec"),
    domNode: target,
    // No deep links: Swagger UI puts them as links inside each operation's toggle button,
    // a focusable element nested in another (axe: nested-interactive).
    deepLinking: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });

  // Swagger UI's own markup, made to pass axe (issue 18): its title is the page's h1, so the
  // tag and schema headings (h3, h4) are level 2 for assistive technology; the API's
  // description block becomes a labelled region, so all content sits in a landmark. React
  // re-renders parts of the page, so this runs again after every change.
  function fix() {
    var headings = target.querySelectorAll("h3.opblock-tag, section.models > h4");
    for (var i = 0; i < headings.length; i++) {
      if (headings[i].getAttribute("aria-level") !== "2") {
        headings[i].setAttribute("aria-level", "2");
      }
    }
    var info = target.querySelector(".information-container");
    if (info && info.getAttribute("role") !== "region") {
      info.setAttribute("role", "region");
      info.setAttribute("aria-label", "API");
    }
  }
  new MutationObserver(fix).observe(target, { childList: true, subtree: true });
  fix();
})();
