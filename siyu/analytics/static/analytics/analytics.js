/* Analytics charts. Each page puts its figures in the json_script block "analytics-data"; the same
   figures are in the table beside each chart and in the CSV export. */
(function () {
  "use strict";
  var source = document.getElementById("analytics-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent) || {};
  var palette = ["#206bc4", "#2fb344", "#f59f00", "#d63939", "#ae3ec9", "#17a2b8", "#f76707", "#74b816",
    "#4263eb", "#e64980", "#0ca678", "#868e96"];
  var narrow = window.matchMedia("(max-width: 575.98px)").matches;

  function mount(name, option) {
    option.color = option.color || palette;
    option.animation = false;
    return window.Siyu.chart.mount(name, option);
  }

  function format(kind, value) {
    if (value === null || value === undefined || value === "-") { return data.labels && data.labels.none || "—"; }
    if (kind === "percent") { return value.toFixed(1) + "%"; }
    if (kind === "money") { return "¥" + Number(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
    if (kind === "ratio") { return Number(value).toFixed(2) + "×"; }
    return String(value);
  }

  function legend() { return { type: "scroll", top: 0 }; }

  // A lifecycle stage's colour, as siyu.css defines it for the stage badges.
  function stageColor(stage) {
    var probe = document.createElement("span");
    probe.className = "stage-" + stage;
    document.body.appendChild(probe);
    var color = getComputedStyle(probe).getPropertyValue("--stage").trim();
    probe.remove();
    return color || undefined;
  }

  // Channel quality: one figure across channels, chosen in a select; new contacts by month.
  if (data.kind === "channels") {
    var compare = mount("compare", {});
    var select = document.querySelector("[data-metric-select]");
    var draw = function (key) {
      var metric = data.metrics.filter(function (m) { return m.key === key; })[0] || data.metrics[0];
      if (!compare || !metric) { return; }
      compare.setOption({
        grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
          valueFormatter: function (v) { return format(metric.format, v); } },
        xAxis: { type: "value", axisLabel: { formatter: function (v) { return format(metric.format, v); } } },
        yAxis: { type: "category", data: data.channels, inverse: true, axisLabel: { width: narrow ? 72 : 120, overflow: "truncate" } },
        series: [{ type: "bar", name: metric.label, data: metric.values.map(function (v) { return v === null ? "-" : v; }),
          itemStyle: { color: palette[0] },
          label: { show: true, position: "right", formatter: function (p) { return format(metric.format, p.value); } } }]
      }, true);
    };
    draw(select ? select.value : null);
    if (select) { select.addEventListener("change", function () { draw(select.value); }); }
    mount("monthly", {
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: legend(),
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", minInterval: 1 },
      series: data.monthly.map(function (row) { return { type: "bar", stack: "all", name: row.name, data: row.values }; })
    });
  }

  // Cohorts: a heat map of retention (rows: cohorts, columns: weeks or months since acquisition).
  if (data.kind === "cohorts") {
    var cohortEl = document.querySelector('[data-chart="cohorts"]');
    if (cohortEl) { cohortEl.style.height = Math.max(280, data.cohorts.length * 24 + 110) + "px"; }
    var dense = data.cohorts.length > 16 || narrow;
    mount("cohorts", {
      grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
      tooltip: { formatter: function (p) {
        var v = p.value;
        return data.cohorts[v[1]] + " · " + data.columns[v[0]] + "<br>" + data.labels.retention + " " +
          format("percent", v[2]) + " (" + v[3] + "/" + v[4] + ")";
      } },
      xAxis: { type: "category", data: data.columns, splitArea: { show: true } },
      yAxis: { type: "category", data: data.cohorts, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: data.scale_max, dimension: 2, calculable: true, orient: "horizontal", left: "center", bottom: 0,
        itemHeight: narrow ? 120 : 200, inRange: { color: ["#f1f5fb", "#206bc4"] },
        formatter: function (v) { return Math.round(v) + "%"; } },
      series: [{ type: "heatmap", name: data.labels.retention, data: data.cells,
        label: { show: !dense, formatter: function (p) { return Math.round(p.value[2]) + "%"; } } }]
    });
  }

  // Funnel: the stages for all channels; conversion from acquisition per channel.
  if (data.kind === "funnel") {
    mount("funnel", {
      tooltip: { trigger: "item", formatter: "{b}: {c}" },
      series: [{ type: "funnel", name: data.labels.reached, left: "5%", width: "90%", top: 8, bottom: 8,
        sort: "none", minSize: "24%", gap: 2,
        label: { show: true, position: "inside", formatter: "{b} {c}" },
        data: data.stages.map(function (label, i) {
          return { name: label, value: data.total[i], itemStyle: { color: stageColor(data.stage_values[i]) } };
        }) }]
    });
    mount("funnel-channels", {
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return format("percent", v); } },
      legend: legend(),
      xAxis: { type: "category", data: data.stages },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: data.channels.map(function (row) {
        return { type: "line", name: row.name, data: row.values.map(function (v) { return v === null ? "-" : v; }) };
      })
    });
  }

  // Segment trends: size (line, left axis), entries up and exits down (bars, right axis); overlap.
  if (data.kind === "segment") {
    mount("segment", {
      grid: { left: 8, right: 8, top: 40, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return String(Math.abs(v)); } },
      legend: legend(),
      xAxis: { type: "category", data: data.days },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value", minInterval: 1, splitLine: { show: false } }],
      series: [
        { type: "line", name: data.labels.size, data: data.sizes, showSymbol: data.days.length < 40, itemStyle: { color: "#206bc4" } },
        { type: "bar", name: data.labels.entered, data: data.entered, yAxisIndex: 1, stack: "change", itemStyle: { color: "#2fb344" } },
        { type: "bar", name: data.labels.exited, data: data.exited, yAxisIndex: 1, stack: "change", itemStyle: { color: "#d63939" } }
      ]
    });
    if (data.overlap) {
      mount("overlap", {
        grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
        tooltip: { trigger: "item", formatter: "{a}: {c}" },
        legend: legend(),
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: [""], show: false },
        series: data.overlap.labels.map(function (label, i) {
          return { type: "bar", stack: "overlap", name: label, data: [data.overlap.values[i]],
            label: { show: data.overlap.values[i] > 0, position: "inside" },
            itemStyle: { color: ["#206bc4", "#ae3ec9", "#2fb344"][i] } };
        })
      });
    }
  }

  // Content to orders: readers and readers who ordered later, most read first.
  if (data.kind === "content") {
    mount("content", {
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: legend(),
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.titles, inverse: true, axisLabel: { width: narrow ? 90 : 160, overflow: "truncate" } },
      series: [
        { type: "bar", name: data.labels.viewers, data: data.viewers, itemStyle: { color: "#206bc4" } },
        { type: "bar", name: data.labels.buyers, data: data.buyers, itemStyle: { color: "#f59f00" } }
      ]
    });
  }

  // Spend: per month, stacked by channel.
  if (data.kind === "spend") {
    mount("spend", {
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return format("money", v); } },
      legend: legend(),
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", axisLabel: { formatter: function (v) { return "¥" + v.toLocaleString(); } } },
      series: data.series.map(function (row) {
        return { type: "bar", stack: "spend", name: row.name, data: row.values.map(function (v) { return v === null ? "-" : v; }) };
      })
    });
  }

})();
