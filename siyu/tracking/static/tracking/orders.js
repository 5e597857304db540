/* The orders page: the period picker and the orders/revenue chart. */
(function () {
  "use strict";
  var form = document.getElementById("order-filters");
  if (form) {
    var period = form.querySelector("[name=period]");
    var dates = form.querySelectorAll("input[type=date]");
    // A preset period replaces the dates; typing a date makes the period a custom one.
    period.addEventListener("change", function () {
      dates.forEach(function (input) { input.value = ""; });
      form.submit();
    });
    dates.forEach(function (input) {
      input.addEventListener("change", function () { period.value = ""; });
    });
  }

  var source = document.getElementById("orders-chart-data");
  var data = source && JSON.parse(source.textContent);
  if (!data) { return; }
  window.Siyu.chart.mount("orders", {
    grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    xAxis: { type: "category", data: data.periods, axisTick: { alignWithLabel: true } },
    yAxis: [
      { type: "value", name: data.labels.orders, minInterval: 1 },
      { type: "value", name: data.labels.revenue, splitLine: { show: false } }
    ],
    series: [
      { type: "bar", name: data.labels.orders, data: data.orders, itemStyle: { color: "#206bc4" } },
      { type: "line", name: data.labels.revenue, yAxisIndex: 1, data: data.revenue, smooth: true,
        showSymbol: data.periods.length <= 31, itemStyle: { color: "#f59f00" } }
    ]
  });
})();
