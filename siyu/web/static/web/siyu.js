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

  // Forms that act on the current filters (<form data-query-from="#filters">) send them as "query",
  // so they follow filter changes made through htmx without a page reload.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var source = form.dataset && form.dataset.queryFrom && document.querySelector(form.dataset.queryFrom);
    var field = form.querySelector && form.querySelector('input[name="query"]');
    if (source && field) {
      field.value = new URLSearchParams(new FormData(source)).toString();
    }
  });

  // Charts: Siyu.chart.mount(target, option) draws an ECharts chart into an element (or the one with
  // data-chart="<target>") as SVG and keeps it sized to the window. A page loads vendor/echarts before
  // its own script; without it (or without the element) mount returns null and the table stands alone.
  var charts = [];
  window.Siyu = window.Siyu || {};
  window.Siyu.chart = {
    mount: function (target, option) {
      var el = typeof target === "string" ? document.querySelector('[data-chart="' + target + '"]') : target;
      if (!el || !window.echarts) { return null; }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option || {});
      charts.push(chart);
      return chart;
    }
  };
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { if (!chart.isDisposed()) { chart.resize(); } });
  });

  document.addEventListener("DOMContentLoaded", function () { closeAlertsLater(document); });
  document.addEventListener("htmx:afterSwap", function (event) { closeAlertsLater(event.target); });
})();
