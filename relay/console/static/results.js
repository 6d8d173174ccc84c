// After a replay or discard: follow each dead letter's work until it is settled
// (delivered, or dead again), polling /console/dead-letters/{id}/now.json.
"use strict";

const SETTLED = new Set(["synced", "sent", "superseded", "dead", "failed", "suppressed"]);

async function follow(row) {
  const cell = row.querySelector(".now");
  for (let i = 0; i < 60; i++) {
    try {
      const r = await fetch("/console/dead-letters/" + row.dataset.id + "/now.json", { credentials: "same-origin" });
      if (!r.ok) { cell.textContent = "HTTP " + r.status; return; }
      const d = await r.json();
      const state = d.entity ? d.entity.state : "unknown";
      let text = state === "synced" || state === "sent" ? "delivered (" + state + ")" : state;
      if (d.dead_again.length) text = "dead again: dead letter " + d.dead_again.map((o) => o.id).join(", ");
      cell.textContent = text;
      cell.dataset.state = state;
      if (d.dead_again.length || SETTLED.has(state) || row.dataset.outcome !== "replayed") return;
    } catch (e) {
      cell.textContent = "could not check: " + e.message;
    }
    await new Promise((done) => setTimeout(done, 2000));
  }
}

// Follow at most FOLLOW rows (a bulk replay may hold a thousand): the rest link to the
// dead letter's own page, which shows the same.
const FOLLOW = 50;
document.querySelectorAll("#results tbody tr").forEach((row, i) => {
  if (i < FOLLOW) follow(row);
  else row.querySelector(".now").textContent = "open the dead letter to follow it";
});
