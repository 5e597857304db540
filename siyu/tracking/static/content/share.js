/* Public share pages: report file downloads, and open external links after the view is recorded. */
(function () {
  "use strict";
  var source = document.getElementById("share-properties");
  var properties = source ? JSON.parse(source.textContent) : {};

  function sdk() { return window.siyu && typeof window.siyu.track === "function" ? window.siyu : null; }

  // <a data-track="File Downloaded">: the event is queued and flushed, then the download proceeds.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-track]") : null;
    var api = sdk();
    if (!link || !api) { return; }
    api.track(link.getAttribute("data-track"), properties);
    if (typeof api.flush === "function") { api.flush(); }
  });

  // The interstitial of an external link: leave after a moment, so the page view is sent first.
  var target = document.querySelector("[data-redirect-after]");
  if (target) {
    var wait = parseInt(target.getAttribute("data-redirect-after"), 10) || 1000;
    setTimeout(function () { var api = sdk(); if (api && typeof api.flush === "function") { api.flush(); } }, Math.max(0, wait - 400));
    setTimeout(function () { window.location.replace(target.href); }, wait);
  }
})();
