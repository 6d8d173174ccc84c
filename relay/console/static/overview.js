// The overview: render the figures from /console/overview.json, and again every 5 s.
// The first render reads the JSON embedded in the page, so nothing waits for a fetch.
"use strict";

const REFRESH_MS = 5000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(2) + " %");
const num = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en"));
function age(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
const secs = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2) + " s");
const RAG_WORD = { green: "on target", amber: "near target", red: "off target", none: "no data" };

function figure(id, label, value, rag, target) {
  const dd = el("dd", { id: id, "data-value": value.raw === undefined ? "" : String(value.raw) }, value.text);
  if (rag) {
    dd.append(" ", el("span", { class: "rag rag-" + rag }, RAG_WORD[rag]));
  }
  if (target) dd.append(el("span", { class: "target" }, " target " + target));
  return [el("dt", {}, label), dd];
}

function fill(id, items) {
  const node = document.getElementById(id);
  node.replaceChildren(...items.flat());
}

function table(id, caption, head, rows) {
  const t = document.getElementById(id);
  const thead = el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h))));
  const tbody = el("tbody", {});
  for (const r of rows) tbody.append(el("tr", {}, ...r.map((c, i) => (i === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c)))));
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: head.length }, "none")));
  t.replaceChildren(el("caption", {}, caption), thead, tbody);
}

const v = (raw, text) => ({ raw: raw, text: text });

function render(d) {
  const s = d.sync, n = d.notifications, t = d.targets;
  document.getElementById("updated-at").textContent = d.at;
  document.getElementById("computed-age").textContent =
    "on-time rates computed " + age(d.on_time_age_s) + " ago, status section " + age(d.status_age_s) + " ago";
  fill("sync-figures", [
    figure("sync-rate", "Changes per minute (" + s.window_min + " min)", v(s.changes_per_min, num(s.changes_per_min))),
    figure("sync-error-rate", "Error rate (" + s.window_min + " min)", v(s.error_rate, pct(s.error_rate)), s.error_rag, "≤ " + pct(t.sync_error_rate)),
    figure("sync-consistency", "Consistency (last reconciliation)", v(s.consistency, pct(s.consistency)), s.consistency_rag, "≥ " + pct(t.consistency)),
    figure("sync-p50", "Enqueue → Homeria p50 (1 h)", v(s.latency_p50_s, secs(s.latency_p50_s))),
    figure("sync-p99", "Enqueue → Homeria p99 (1 h)", v(s.latency_p99_s, secs(s.latency_p99_s))),
    figure("sync-breaker", "Circuit breaker", v(s.breaker && s.breaker.state, (s.breaker && s.breaker.state) || "–"), s.breaker_rag),
    figure("sync-rate-limit", "Rate limit", v(null, s.rate_limit ? (s.rate_limit.enabled ? s.rate_limit.max_rps + " rps, " + num(s.rate_limit.tokens) + " tokens left" : "off") : "–")),
    figure("sync-oldest", "Oldest pending change", v(s.oldest_pending_age_s, age(s.oldest_pending_age_s))),
  ]);
  fill("sync-states", Object.entries(s.by_state || {}).map(([k, c]) => figure("ec-" + k, k, v(c, num(c)))));
  const w = n.windows;
  fill("notes-figures", [
    ...[["today", "today"], ["7d", "7 days"], ["30d", "30 days"]].map(([k, label]) =>
      figure("otnr-" + k, "On time, " + label + " (" + num(w[k].events) + " events)", v(w[k].otnr, pct(w[k].otnr)), w[k].rag, "≥ " + pct(t.otnr))),
    figure("n-unsent", "Unsent", v(n.unsent, num(n.unsent))),
    figure("n-at-risk", "At risk", v(n.at_risk, num(n.at_risk))),
    figure("n-late", "Late (unsent past deadline)", v(n.late, num(n.late))),
    figure("n-oldest", "Oldest unsent", v(n.oldest_unsent_age_s, age(n.oldest_unsent_age_s))),
  ]);
  fill("notes-states", Object.entries(n.by_state || {}).map(([k, c]) => figure("ns-" + k, k, v(c, num(c)))));
  const dims = (by, unsent) => Object.entries(by).map(([k, c]) => [k, num(c.events), pct(c.otnr), num(c.late), pct(c.error_rate), num((unsent || {})[k] || 0)]);
  const head = ["", "events", "on time", "late", "error rate", "unsent now"];
  table("by-channel", "By channel", head, dims(n.by_channel_7d, n.unsent_by_channel));
  table("by-type", "By event type", head, dims(n.by_event_type_7d, n.unsent_by_event_type));
  const dl = d.dead_letters;
  fill("dl-figures", [
    figure("dl-open", "Open", v(dl.open, num(dl.open))),
    figure("dl-oldest", "Oldest open", v(dl.oldest_open_age_s, age(dl.oldest_open_age_s))),
  ]);
  table("dl-reasons", "Open, by reason", ["kind", "reason", "open", "oldest"],
    dl.by_reason.map((r) => [r.kind, el("a", { href: "/dead-letters?task=" + encodeURIComponent(r.kind) + "&reason=" + encodeURIComponent(r.reason) }, r.reason), num(r.open), age(r.oldest_age_s)]));
  table("dl-ages", "Open, by age", ["age", "open"], dl.by_age.map((r) => [r.age, num(r.open)]));
  table("queues", "Queue depth and oldest message", ["queue", "depth", "oldest message"],
    d.queues.map((q) => [q.name, q.depth === null ? "broker unreachable" : num(q.depth), age(q.oldest_age_s)]));
  const wk = d.workers;
  const workers = document.getElementById("workers");
  if (wk.workers === null) {
    workers.replaceChildren(el("li", {}, wk.error ? "ping failed: " + wk.error : "checking…"));
  } else {
    workers.replaceChildren(el("li", { class: "muted" }, wk.workers.length + " answered a ping " + age(wk.age_s) + " ago"),
      ...wk.workers.map((name) => el("li", {}, name)));
  }
  document.getElementById("alerts").replaceChildren(...(d.alerts.length ? d.alerts.map((a) =>
    el("li", {}, el("time", {}, a.last_sent_at), " ", a.title || a.key, a.suppressed ? " (+" + a.suppressed + " more)" : "")) : [el("li", {}, "none")]));
}

async function refresh() {
  const problem = document.getElementById("refresh-error");
  try {
    const r = await fetch("/console/overview.json", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) { window.location.assign("/sign-in"); return; }
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    problem.hidden = true;
  } catch (e) {
    problem.textContent = "refresh failed (" + e.message + "); showing the last figures";
    problem.hidden = false;
  }
}

render(JSON.parse(document.getElementById("overview-data").textContent));
setInterval(refresh, REFRESH_MS);
