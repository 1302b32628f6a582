// Draws the administrator dashboard charts with the locally served ECharts. Animation is
// off, so a chart is complete once drawn (screenshots, and readers who prefer no motion).
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("dashboard-data");
    if (!source || !window.echarts) { return; }
    var payload = JSON.parse(source.textContent);
    var data = payload.data, labels = payload.labels;
    var meetings = document.getElementById("chart-meetings");
    if (meetings) {
      echarts.init(meetings).setOption({
        animation: false,
        title: { text: labels.meetings_by_department, textStyle: { fontSize: 14 } },
        tooltip: {}, legend: { bottom: 0 },
        xAxis: { type: "category", data: data.departments }, yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: labels.scheduled, type: "bar", stack: "m", data: data.scheduled, itemStyle: { color: "#0b5cad" } },
          { name: labels.cancelled, type: "bar", stack: "m", data: data.cancelled, itemStyle: { color: "#a4121c" } }
        ]
      });
    }
    var deliveries = document.getElementById("chart-deliveries");
    if (deliveries) {
      var statuses = Object.keys(data.deliveries);
      echarts.init(deliveries).setOption({
        animation: false,
        title: { text: labels.deliveries, textStyle: { fontSize: 14 } }, tooltip: {}, legend: { bottom: 0 },
        series: [{ type: "pie", radius: "60%", data: statuses.map(function (s) { return { name: labels[s] || s, value: data.deliveries[s] }; }) }]
      });
    }
    var actions = document.getElementById("chart-actions");
    if (actions && data.extra.actions) {
      var a = data.extra.actions;
      echarts.init(actions).setOption({
        animation: false,
        title: { text: labels.actions_by_department, textStyle: { fontSize: 14 } }, tooltip: {}, legend: { bottom: 0 },
        xAxis: { type: "category", data: a.departments }, yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: labels.open, type: "bar", data: a.open, itemStyle: { color: "#0b5cad" } },
          { name: labels.overdue, type: "bar", data: a.overdue, itemStyle: { color: "#a4121c" } }
        ]
      });
    }
    var checks = document.getElementById("chart-checks");
    if (checks && data.extra.checks) {
      var c = data.extra.checks;
      // One stacked bar per department: occurrences whose latest run failed, split by the
      // check that failed (an occurrence failing two checks counts in both parts).
      var names = Object.keys(c.by_check || {});
      var palette = ["#a4121c", "#b35900", "#6b3fa0", "#0b5cad", "#1e6b34"];
      var series = names.length ? names.map(function (name, index) {
        return { name: labels["check_" + name] || name, type: "bar", stack: "c", data: c.by_check[name], itemStyle: { color: palette[index % palette.length] } };
      }) : [{ name: labels.failed_checks, type: "bar", data: c.failed, itemStyle: { color: "#a4121c" } }];
      echarts.init(checks).setOption({
        animation: false,
        title: { text: labels.checks_by_department, textStyle: { fontSize: 14 } }, tooltip: {}, legend: { bottom: 0 },
        xAxis: { type: "category", data: c.departments }, yAxis: { type: "value", minInterval: 1 },
        series: series
      });
    }
    document.body.dataset.chartsReady = "true";
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
