// The API explorer: start Swagger UI on the node's own OpenAPI document. A file, not an
// inline script, so that the page's Content-Security-Policy allows no inline script.
// No validator: Swagger UI would otherwise fetch a badge from validator.swagger.io.
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
