/* Live events page: charts of events per minute (by source, by type), the totals table and the
 * latest events, all refreshed every 5 seconds from the JSON of [data-live-url] while the tab shows. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || !window.echarts) { return; }
  var labels = JSON.parse(document.getElementById("live-labels").textContent);
  var url = root.dataset.liveUrl;
  var REFRESH_MS = 5000;

  function mount(name) {
    return window.Siyu.chart.mount(root.querySelector('[data-chart="' + name + '"]'));
  }
  var sourcesChart = mount("live-sources");
  var typesChart = mount("live-types");

  function lines(list, stacked) {
    return list.map(function (line) {
      return {
        name: line.label,
        type: stacked ? "bar" : "line",
        stack: stacked ? "types" : undefined,
        smooth: !stacked,
        showSymbol: false,
        areaStyle: stacked ? undefined : { opacity: 0.08 },
        data: line.counts
      };
    });
  }

  function draw(data) {
    if (sourcesChart) {
      sourcesChart.setOption({
        grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis" },
        legend: { type: "scroll", top: 0 },
        xAxis: { type: "category", boundaryGap: false, data: data.minutes },
        yAxis: { type: "value", minInterval: 1, name: labels.events },
        series: lines(data.sources, false)
      }, { replaceMerge: ["series"] });
    }
    if (typesChart) {
      typesChart.setOption({
        grid: { left: 8, right: 8, top: 28, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        legend: { type: "scroll", top: 0 },
        xAxis: { type: "category", data: data.minutes, axisLabel: { show: false } },
        yAxis: { type: "value", minInterval: 1 },
        series: lines(data.types, true)
      }, { replaceMerge: ["series"] });
    }
    var total = root.querySelector("[data-live-total]");
    if (total) { total.textContent = String(data.total); }
    var body = root.querySelector("[data-live-table] tbody");
    if (body) {
      var rows = data.sources.map(function (l) { return [l.label, l.total]; })
        .concat(data.types.map(function (l) { return [l.label, l.total]; }));
      if (rows.length) {
        body.replaceChildren.apply(body, rows.map(function (r) {
          var tr = document.createElement("tr");
          var name = document.createElement("td");
          name.textContent = r[0];
          var count = document.createElement("td");
          count.className = "text-end";
          count.textContent = String(r[1]);
          tr.appendChild(name);
          tr.appendChild(count);
          return tr;
        }));
      }
    }
    var events = root.querySelector("[data-live-events]");
    if (events && typeof data.events_html === "string") { events.innerHTML = data.events_html; }
  }

  var timer = null;
  function refresh() {
    window.clearTimeout(timer);
    if (document.visibilityState !== "visible") { return; }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { draw(data); } })
      .catch(function () { /* try again at the next tick */ })
      .then(function () { timer = window.setTimeout(refresh, REFRESH_MS); });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
  });
  refresh();
})();
