/* Siyu page glue: no inline scripts, everything wired by data attributes. */
(function () {
  "use strict";

  function closeAlertsLater(root) {
    root.querySelectorAll(".alert-success.alert-dismissible").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 6000);
    });
  }

  // Confirm destructive actions: <button data-confirm="Delete 3 contacts?">
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = (submitter && submitter.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () { closeAlertsLater(document); });
  document.addEventListener("htmx:afterSwap", function (event) { closeAlertsLater(event.target); });
})();
