// Starts the vendored Swagger UI on /docs (a file, not inline: the CSP admits no inline script).
(function () {
  "use strict";
  var target = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: target.getAttribute("data-spec"),
    domNode: target,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
