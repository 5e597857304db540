/* Content library pages: copy buttons, auto-submitting selects, the body editor's toolbar, charts. */
(function () {
  "use strict";

  // <button data-copy="#input" data-copied="Copied">: copy the input's value, say so for a moment.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) { return; }
    var label = button.querySelector("span");
    var before = label ? label.textContent : "";
    function done() {
      if (!label) { return; }
      label.textContent = button.getAttribute("data-copied") || before;
      setTimeout(function () { label.textContent = before; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); document.execCommand("copy"); done(); });
    } else {
      input.select();
      document.execCommand("copy");
      done();
    }
  });

  // <select data-autosubmit>: submit the form on change.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.hasAttribute && select.hasAttribute("data-autosubmit") && select.form) { select.form.submit(); }
  });

  // The body editor: buttons that wrap the selection in a tag or insert a snippet.
  function editorInsert(textarea, before, after, placeholder) {
    var start = textarea.selectionStart, end = textarea.selectionEnd, value = textarea.value;
    var selected = value.slice(start, end) || placeholder || "";
    textarea.value = value.slice(0, start) + before + selected + after + value.slice(end);
    textarea.focus();
    textarea.selectionStart = start + before.length;
    textarea.selectionEnd = start + before.length + selected.length;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function escapeAttribute(text) { return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"); }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-editor] .btn-toolbar button");
    if (!button) { return; }
    var textarea = button.closest("[data-editor]").querySelector("textarea");
    var tag = button.getAttribute("data-wrap"), list = button.getAttribute("data-list");
    if (tag) {
      var block = ["h2", "h3", "p", "blockquote"].indexOf(tag) >= 0;
      editorInsert(textarea, "<" + tag + ">", "</" + tag + ">" + (block ? "\n" : ""), "");
    } else if (list) {
      var start = textarea.selectionStart, end = textarea.selectionEnd;
      var lines = (textarea.value.slice(start, end) || "").split("\n").filter(function (l) { return l.trim(); });
      var items = (lines.length ? lines : [""]).map(function (l) { return "  <li>" + l + "</li>"; }).join("\n");
      textarea.setRangeText("<" + list + ">\n" + items + "\n</" + list + ">\n", start, end, "end");
      textarea.focus();
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    } else if (button.hasAttribute("data-link") || button.hasAttribute("data-image")) {
      var address = window.prompt(button.getAttribute("data-prompt") || "https://", "https://");
      if (!address || !/^https?:\/\//i.test(address)) { return; }
      if (button.hasAttribute("data-link")) {
        editorInsert(textarea, '<a href="' + escapeAttribute(address) + '">', "</a>", address);
      } else {
        editorInsert(textarea, '<img src="' + escapeAttribute(address) + '" alt="">', "", "");
      }
    } else if (button.hasAttribute("data-insert")) {
      editorInsert(textarea, button.getAttribute("data-insert") + "\n", "", "");
    }
  });

  // Charts: a bar chart by sharer (content page, performance page) and the most viewed content.
  if (!window.echarts) { return; }
  var mount = window.Siyu.chart.mount;
  function bars(categories, series) {
    return {
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: categories, inverse: true,
        axisLabel: { width: 120, overflow: "truncate" } },
      series: series
    };
  }
  function sharerChart(data) {
    mount("sharers", bars(data.names, [
      { type: "bar", name: data.labels.views, data: data.views, itemStyle: { color: "#206bc4" } },
      { type: "bar", name: data.labels.viewers, data: data.viewers, itemStyle: { color: "#2fb344" } }
    ]));
  }
  var detail = document.getElementById("sharer-chart-data");
  if (detail) { sharerChart(JSON.parse(detail.textContent)); }
  var overview = document.getElementById("performance-chart-data");
  if (overview) {
    var data = JSON.parse(overview.textContent);
    mount("content", bars(data.titles, [
      { type: "bar", name: data.labels.views, data: data.views, itemStyle: { color: "#206bc4" } },
      { type: "bar", name: data.labels.viewers, data: data.viewers, itemStyle: { color: "#2fb344" } }
    ]));
    sharerChart(data.sharers);
  }
})();
