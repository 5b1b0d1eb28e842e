// Progressive enhancement only: the team page works without this file.
// Draws the team's charts (uPlot) from the numbers the page carries as JSON (the same numbers
// are in the page's table), and marks on each time axis the months in which the team's
// members attended sessions.
(function () {
  "use strict";
  var STROKES = { dora: "#0b5cad", participation: "#0f7b3f" };
  var MARK = "#8a4b00";

  function markAttended(attended) {
    // A small triangle under each month with sessions attended, on the plot's bottom edge.
    return function (u) {
      var ctx = u.ctx, size = 6 * devicePixelRatio;
      var bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.fillStyle = MARK;
      attended.forEach(function (yes, i) {
        if (!yes) { return; }
        var x = u.valToPos(i, "x", true);
        ctx.beginPath();
        ctx.moveTo(x, bottom - size);
        ctx.lineTo(x - size, bottom);
        ctx.lineTo(x + size, bottom);
        ctx.closePath();
        ctx.fill();
      });
      ctx.restore();
    };
  }

  function drawCharts() {
    var source = document.getElementById("impact-data");
    if (!source || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var xs = data.months.map(function (_, i) { return i; });
    var shares = new Set(data.shares);
    var marked = data.attended.filter(function (yes) { return yes; }).length;
    document.querySelectorAll(".chart[data-series]").forEach(function (figure) {
      var metric = figure.dataset.series;
      var scale = shares.has(metric) ? 100 : 1;
      var values = data.series[metric].map(function (v) { return v === null ? null : v * scale; });
      var plot = figure.querySelector(".plot");
      var width = Math.max(plot.clientWidth || figure.clientWidth - 16, 240);
      new uPlot({
        width: width,
        height: 150,
        legend: { show: false },
        cursor: { show: true, drag: { x: false, y: false } },
        scales: { x: { time: false, range: [-0.5, xs.length - 0.5] } },
        axes: [
          { values: function (u, ticks) { return ticks.map(function (t) { return Number.isInteger(t) ? (data.months[t] || "").slice(2) : ""; }); },
            size: 28, space: 40 },
          { size: 52, values: function (u, ticks) { return ticks.map(function (t) { return scale === 100 ? Math.round(t) + "%" : t; }); } }
        ],
        series: [{}, { label: metric, stroke: STROKES[figure.dataset.group] || STROKES.dora, width: 2,
                       points: { show: true, size: 5 }, spanGaps: false }],
        hooks: { draw: [markAttended(data.attended)] }
      }, [xs, values], plot);
      plot.setAttribute("data-drawn", "true");
      plot.setAttribute("data-marked", String(marked));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
