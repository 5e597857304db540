/* Home dashboard charts. Data comes from the json_script block "dashboard-data". */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var mount = window.Siyu.chart.mount;

  mount("stages", {
    grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    xAxis: { type: "category", data: data.stages.map(function (s) { return s.label; }) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{
      type: "bar",
      name: data.labels.contacts,
      data: data.stages.map(function (s) { return { value: s.count, itemStyle: { color: s.color } }; }),
      label: { show: true, position: "top" }
    }]
  });

  mount("owners", {
    tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
    legend: { type: "scroll", bottom: 0 },
    series: [{
      type: "pie",
      name: data.labels.contacts,
      radius: ["40%", "68%"],
      center: ["50%", "45%"],
      data: data.owners.map(function (o) { return { name: o.name, value: o.count }; })
    }]
  });
})();
