/* The report charts (Reports page, overview). Each chart is a
   <canvas data-chart="outcomes|connect_rate|revenue" data-src="/reports/charts.json?..."> whose
   figures come from that small JSON endpoint; Chart.js (vendored, static/chart.umd.min.js)
   draws them. The page's table holds the same figures as text, so nothing here is the only
   way to read a number.

   Under the strict CSP: no inline script, no eval, no style attributes: Chart.js sizes the
   canvas through the CSSOM, which the policy allows, and its box is sized by a class in
   sipflask.css. Colours are the Okabe-Ito palette (told apart with the common colour-vision
   deficiencies), and each outcome also has its own fill pattern and a fixed stacking order,
   matching the legend, so colour is never the only cue. */
(function () {
  "use strict";

  /* Okabe-Ito; the outcomes stack bottom to top in this order, the legend lists them so. */
  var OUTCOMES = [
    {key: "connected", label: "Connected", colour: "#009E73", pattern: "solid"},
    {key: "not_answered", label: "Not answered", colour: "#E69F00", pattern: "stripes"},
    {key: "no_buyer", label: "No buyer", colour: "#56B4E9", pattern: "dots"},
    {key: "rejected", label: "Rejected", colour: "#D55E00", pattern: "cross"}
  ];
  var BLUE = "#0072B2", GREEN = "#009E73";
  var charts = [];

  /* A small tile filled with ``colour`` and drawn over in white: a fill that still differs
     from its neighbours in grey scale or to a colour-blind eye. */
  function pattern(colour, kind) {
    if (kind === "solid") return colour;
    var tile = document.createElement("canvas");
    tile.width = tile.height = 10;
    var c = tile.getContext("2d");
    c.fillStyle = colour;
    c.fillRect(0, 0, 10, 10);
    c.strokeStyle = c.fillStyle = "rgba(255,255,255,0.75)";
    c.lineWidth = 2;
    if (kind === "dots") {
      c.beginPath();
      c.arc(5, 5, 2, 0, 2 * Math.PI);
      c.fill();
    } else {
      c.beginPath();
      c.moveTo(0, 10); c.lineTo(10, 0);
      if (kind === "cross") { c.moveTo(0, 0); c.lineTo(10, 10); }
      c.stroke();
    }
    return c.createPattern(tile, "repeat");
  }

  /* Hour labels come as "2026-11-01 01:00 EDT": on the axis, drop what every label shares (the
     date of a one-day range, the year, a zone that never changes); the tooltip keeps it all
     (the two 01:00s of the night clocks go back differ by their zone). */
  function shortLabels(data) {
    if (data.bucket !== "hour") return null;
    var zones = {};
    data.buckets.forEach(function (b) { zones[b.split(" ")[2] || ""] = 1; });
    var oneZone = Object.keys(zones).length === 1;
    return data.buckets.map(function (b) {
      var parts = b.split(" ");
      var when = data.from === data.to ? parts[1] : parts[0].slice(5) + " " + parts[1];
      return oneZone ? when : when + " " + (parts[2] || "");
    });
  }

  function outcomesConfig(data) {
    var short = shortLabels(data);
    return {
      type: "bar",
      data: {
        labels: data.buckets,
        datasets: OUTCOMES.map(function (o) {
          return {label: o.label, data: data[o.key] || [], backgroundColor: pattern(o.colour, o.pattern),
                  borderColor: o.colour, borderWidth: 1};
        })
      },
      options: {scales: {
        x: {stacked: true, ticks: short ? {callback: function (value) { return short[value]; }} : {}},
        y: {stacked: true, beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: "calls"}}}}
    };
  }

  function connectRateConfig(data) {
    return {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{label: "Connect rate (%)", data: data.connect_rate.map(function (r) { return r * 100; }),
                    backgroundColor: GREEN}]
      },
      options: {indexAxis: "y", scales: {x: {beginAtZero: true, max: 100, title: {display: true, text: "%"}}}}
    };
  }

  function revenueConfig(data) {
    return {
      type: "bar",
      data: {
        labels: data.buckets,
        datasets: [{label: "Revenue", data: data.revenue.map(Number), backgroundColor: BLUE}]
      },
      options: {scales: {y: {beginAtZero: true, title: {display: true, text: "revenue"}}}}
    };
  }

  var CONFIGS = {outcomes: outcomesConfig, connect_rate: connectRateConfig, revenue: revenueConfig};

  function draw(canvas, data) {
    var config = CONFIGS[canvas.dataset.chart](data);
    /* No animation: the figures are there at once (and for people who turn motion off). */
    config.options.animation = false;
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    config.options.plugins = {legend: {position: "bottom"}};
    charts.push(new window.Chart(canvas, config));
    canvas.dataset.drawn = "1";
  }

  function load(canvas) {
    canvas.dataset.drawn = "loading";
    fetch(canvas.dataset.src, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { if (canvas.isConnected) draw(canvas, data); })
      .catch(function () {
        canvas.dataset.drawn = "failed";
        var note = canvas.parentNode && canvas.parentNode.querySelector("[data-chart-failed]");
        if (note) note.hidden = false;
      });
  }

  function scan() {
    if (!window.Chart) return;
    /* Charts whose canvas an htmx swap removed: free them. */
    charts = charts.filter(function (chart) {
      if (chart.canvas && chart.canvas.isConnected) return true;
      chart.destroy();
      return false;
    });
    var canvases = document.querySelectorAll("canvas[data-chart][data-src]");
    for (var i = 0; i < canvases.length; i++) {
      if (!canvases[i].dataset.drawn && CONFIGS[canvases[i].dataset.chart]) load(canvases[i]);
    }
  }

  /* Typing a date of its own makes the range a custom one (without JavaScript the form says to
     choose Custom). "input" comes before the "change" that sends the form. */
  document.addEventListener("input", function (e) {
    var field = e.target.closest && e.target.closest("[data-custom-date]");
    if (!field || !field.form) return;
    var preset = field.form.querySelector("select[data-range-preset]");
    if (preset) preset.value = "custom";
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  document.addEventListener("htmx:afterSettle", scan);
})();
