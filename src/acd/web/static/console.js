// The console's shared script: no framework, no inline handlers (the CSP refuses them).
// - buttons with data-confirm ask before submitting their form;
// - acdFetch(url, options) asks for JSON (a lapsed session then answers 401, not the login
//   page) and sends the page's CSRF token (body data-csrf) with unsafe methods.
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
window.acdFetch = function (url, options) {
  options = options || {};
  var method = (options.method || "GET").toUpperCase();
  options.headers = options.headers || {};
  options.credentials = "same-origin";
  if (!options.headers.Accept) {
    options.headers.Accept = "application/json";
  }
  if (method !== "GET" && method !== "HEAD") {
    options.headers["X-CSRF-Token"] = document.body.getAttribute("data-csrf") || "";
  }
  return fetch(url, options);
};
