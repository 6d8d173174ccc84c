// Trend charts with plotly.js (served from the plotly Python package; nothing external).
"use strict";

const data = JSON.parse(document.getElementById("trends-data").textContent);
const LAYOUT = {
  margin: { l: 48, r: 12, t: 8, b: 36 }, height: 240, showlegend: true,
  legend: { orientation: "h", y: -0.25 }, xaxis: { type: "date" },
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
};
const CONFIG = { displaylogo: false, responsive: true, staticPlot: false };
const x = (rows) => rows.map((r) => r.t);
const line = (rows, key, name, extra) => ({ x: x(rows), y: rows.map((r) => r[key]), name: name, type: "scatter", mode: "lines+markers", ...extra });
const target = (rows, value, name) => ({ x: x(rows), y: rows.map(() => value), name: name, mode: "lines", line: { dash: "dot", color: "#b42318" } });

function plot(id, traces, yaxis) {
  window.Plotly.newPlot(id, traces, { ...LAYOUT, yaxis: yaxis || {} }, CONFIG);
}

const n = data.notifications, s = data.sync;
plot("chart-otnr", [line(n, "otnr", "on time"), target(n, data.targets.otnr, "target")], { tickformat: ".0%", rangemode: "tozero" });
plot("chart-rate", [line(s, "changes_per_min", "changes / min")], { rangemode: "tozero" });
plot("chart-errors", [line(s, "error_rate", "email sync"), line(n, "error_rate", "notifications"), target(s, data.targets.sync_error_rate, "sync target")], { tickformat: ".1%", rangemode: "tozero" });
plot("chart-latency", [line(s, "p50_s", "p50"), line(s, "p99_s", "p99")], { rangemode: "tozero" });
plot("chart-send-latency", [line(n, "p50_s", "p50"), line(n, "p99_s", "p99")], { rangemode: "tozero" });
plot("chart-dead", [{ x: x(s), y: s.map((r) => r.dead_letters), type: "bar", name: "opened" }], { rangemode: "tozero" });
document.body.dataset.chartsReady = "1";
