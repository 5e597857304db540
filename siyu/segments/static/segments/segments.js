/* Segment charts: size over time with daily entries and exits, and the RFM groups. Data comes from
   json_script blocks; the figures are also in the tables beside the charts. */
(function () {
  "use strict";
  if (!window.echarts) { return; }
  var mount = window.Siyu.chart.mount;

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var size = data("segment-chart-data");
  if (size) {
    mount("segment-size", {
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      xAxis: { type: "category", data: size.days, axisTick: { alignWithLabel: true } },
      yAxis: [
        { type: "value", name: size.labels.size, minInterval: 1 },
        { type: "value", minInterval: 1, splitLine: { show: false } }
      ],
      series: [
        { type: "line", name: size.labels.size, data: size.size, step: "end", showSymbol: size.days.length <= 31,
          areaStyle: { opacity: 0.08 }, itemStyle: { color: "#206bc4" } },
        { type: "bar", name: size.labels.entered, yAxisIndex: 1, data: size.entered, itemStyle: { color: "#2fb344" } },
        { type: "bar", name: size.labels.exited, yAxisIndex: 1, data: size.exited, itemStyle: { color: "#d63939" } }
      ]
    });
  }

  var rfm = data("rfm-chart-data");
  if (rfm) {
    mount("rfm-groups", {
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: rfm.groups.map(function (g) { return g.name; }) },
      series: [{
        type: "bar", name: rfm.label, data: rfm.groups.map(function (g) { return g.value; }),
        label: { show: true, position: "right" },
        itemStyle: { color: function (p) { return p.dataIndex < 4 ? "#206bc4" : "#74b9ff"; } }
      }]
    });
  }
})();
