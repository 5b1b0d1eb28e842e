// Progressive enhancement only: every page works without this file.
// Draws the health dashboard's charts (uPlot) from the numbers the page carries as JSON;
// the same numbers are in the page's table.
(function () {
  "use strict";
  function drawCharts() {
    var source = document.getElementById("health-data");
    if (!source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var xs = data.months.map(function (_, i) { return i; });
    var shares = new Set(data.shares);
    document.querySelectorAll(".chart[data-metric]").forEach(function (figure) {
      var metric = figure.dataset.metric;
      var values = data.series[metric];
      var scale = shares.has(metric) ? 100 : 1;
      var plot = figure.querySelector(".plot");
      var width = Math.max(plot.clientWidth || figure.clientWidth - 16, 240);
      new uPlot({
        width: width,
        height: 160,
        legend: { show: false },
        cursor: { show: true, drag: { x: false, y: false } },
        scales: { x: { time: false } },
        axes: [
          { values: function (u, ticks) { return ticks.map(function (t) { return (data.months[t] || "").slice(2); }); },
            size: 28, space: 40 },
          { size: 52, values: function (u, ticks) { return ticks.map(function (t) { return scale === 100 ? Math.round(t) + "%" : t; }); } }
        ],
        series: [{}, { label: metric, stroke: "#0b5cad", width: 2, fill: "rgba(11,92,173,0.08)",
                       points: { show: true, size: 5 } }]
      }, [xs, values.map(function (v) { return v * scale; })], plot);
      plot.setAttribute("data-drawn", "true");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
