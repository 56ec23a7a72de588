// Starts Swagger UI on /docs. Loaded from this origin: the page's Content-Security-Policy allows
// no inline script and nothing from elsewhere. validatorUrl null: Swagger UI would otherwise send
// the spec's URL to an online validator and show its badge.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
