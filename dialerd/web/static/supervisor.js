// The supervisor's wallboard: follows /events and updates the page the server rendered.
// Every number arrives formatted in the "wallboard" message; this script only places it,
// turns enums into words from #texts, and ticks the clocks (time in state, a lead's age)
// between messages. Nothing is built from HTML strings but the charts the server drew.
"use strict";
(function () {
  const texts = JSON.parse(document.getElementById("texts").textContent);
  const csrfMeta = document.querySelector('meta[name="csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const board = document.querySelector("main.board");
  const t = (key, fallback) => texts[key] || fallback || key;
  const $ = (id) => document.getElementById(id);
  let zone = board.dataset.zone || undefined;
  let chartsAt = Number(board.dataset.chartsAt || 0);
  let skew = 0; // server clock minus this one, from each message

  function clock(seconds) {
    if (!isFinite(seconds)) return "";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  }
  function timeOfDay(epoch) {
    try {
      return new Date(epoch * 1000).toLocaleTimeString(document.documentElement.lang,
        { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit" });
    } catch (e) { return new Date(epoch * 1000).toLocaleTimeString(); }
  }
  function now() { return Date.now() / 1000 + skew; }
  function num(x) { return x === "" || x === undefined || x === null ? NaN : Number(x); }

  // --- numbers ---------------------------------------------------------------------------
  function showNumbers(numbers) {
    for (const [key, n] of Object.entries(numbers || {})) {
      const tile = document.querySelector('[data-number="' + key + '"]');
      if (!tile) continue;
      tile.querySelector(".value").textContent = n.text;
      tile.className = "tile level-" + (n.level || "ok");
      if (key === "oldest_new") {
        tile.dataset.since = n.since || "";
        tile.dataset.deadline = n.deadline || "";
        tile.dataset.warnAt = n.warn_at || "";
      }
    }
  }
  function tickOldest() {
    const tile = document.querySelector('[data-number="oldest_new"]');
    if (!tile || !tile.dataset.since) return;
    const at = now();
    tile.querySelector(".value").textContent = clock(at - num(tile.dataset.since));
    const deadline = num(tile.dataset.deadline), warn = num(tile.dataset.warnAt);
    const level = at >= deadline ? "red" : at >= warn ? "amber" : "ok";
    tile.className = "tile level-" + level;
  }

  // --- campaigns -------------------------------------------------------------------------
  function showCampaigns(campaigns) {
    for (const c of campaigns || []) {
      const row = document.querySelector('tr[data-campaign="' + CSS.escape(c.name) + '"]');
      if (!row) continue;
      row.classList.toggle("paused", c.paused);
      row.querySelector(".c-ratio").textContent = c.ratio_text;
      row.querySelector(".c-ratio").title = c.pace_reason || "";
      const abandon = row.querySelector(".c-abandon");
      abandon.textContent = c.abandon_text;
      abandon.className = "c-abandon level-" + c.level;
      row.querySelector(".c-status").textContent = c.paused ? t("wb.paused") : t("wb.dialing");
      const pause = row.querySelector(".c-pause"), resume = row.querySelector(".c-resume");
      if (pause) pause.hidden = c.paused;
      if (resume) resume.hidden = !c.paused;
    }
  }

  // --- operators -------------------------------------------------------------------------
  function cell(row, cls) { return row.querySelector("." + cls); }
  function newRow(name) {
    const template = document.querySelector("#operators tbody tr");
    const row = template ? template.cloneNode(true) : document.createElement("tr");
    row.dataset.operator = name;
    row.cells[0].textContent = name;
    document.querySelector("#operators tbody").appendChild(row);
    wireListen(row);
    return row;
  }
  function showOperators(rows) {
    for (const o of rows || []) {
      const row = document.querySelector('tr[data-operator="' + CSS.escape(o.name) + '"]') || newRow(o.name);
      row.dataset.since = o.since;
      row.dataset.limit = o.limit_s || "";
      row.dataset.callSince = o.call_since || "";
      const state = cell(row, "op-state");
      state.className = "op-state presence-" + o.presence;
      state.textContent = t("presence." + o.presence, o.presence);
      cell(row, "op-reason").textContent =
        o.pause_reason === "missed_call" ? t("pause.missed_call") : o.pause_reason || "";
      const lead = cell(row, "op-lead");
      lead.textContent = "";
      if (o.lead_id) {
        const a = document.createElement("a");
        a.href = "/supervisor/leads/" + encodeURIComponent(o.lead_id);
        a.textContent = o.lead_id;
        lead.appendChild(a);
      }
      cell(row, "op-calls").textContent = o.calls;
      cell(row, "op-talk").textContent = o.talk;
      cell(row, "op-confirmed").textContent = o.confirmed;
      cell(row, "op-revenue").textContent = o.revenue;
      row.querySelectorAll("button.listen").forEach((b) => { b.hidden = o.presence !== "talking"; });
    }
    tickOperators();
  }
  function showState(m) {
    const row = document.querySelector('tr[data-operator="' + CSS.escape(m.operator) + '"]');
    if (!row) return;
    row.dataset.since = m.since;
    const state = cell(row, "op-state");
    state.className = "op-state presence-" + m.presence;
    state.textContent = t("presence." + m.presence, m.presence);
    cell(row, "op-reason").textContent =
      m.pause_reason === "missed_call" ? t("pause.missed_call") : m.pause_reason || "";
    row.querySelectorAll("button.listen").forEach((b) => { b.hidden = m.presence !== "talking"; });
    const counts = {};
    document.querySelectorAll("#operators .op-state").forEach((el) => {
      const presence = el.className.replace(/.*presence-(\w+).*/, "$1");
      counts[presence] = (counts[presence] || 0) + 1;
    });
    document.querySelectorAll('[data-number^="ops_"]').forEach((tile) => {
      tile.querySelector(".value").textContent = counts[tile.dataset.number.slice(4)] || 0;
    });
    tickOperators();
  }
  function tickOperators() {
    const at = now();
    document.querySelectorAll("#operators tbody tr").forEach((row) => {
      const inState = at - num(row.dataset.since);
      cell(row, "op-timer").textContent = clock(inState);
      const limit = num(row.dataset.limit);
      row.classList.toggle("overrun", isFinite(limit) && inState > limit);
      const call = num(row.dataset.callSince);
      cell(row, "op-call").textContent = isFinite(call) ? clock(at - call) : "";
    });
  }

  // --- tiers and alerts ------------------------------------------------------------------
  function showTiers(tiers) {
    const body = document.querySelector("#tiers tbody");
    body.textContent = "";
    for (const row of tiers || []) {
      const tr = document.createElement("tr");
      for (const [value, cls] of [[t("tier." + row.tier, row.tier), ""], [row.waiting, "num"], [row.due, "num"]]) {
        const td = document.createElement("td");
        td.textContent = value;
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }
  function showAlerts(alerts) {
    const list = $("alerts");
    list.textContent = "";
    for (const a of alerts || []) {
      const li = document.createElement("li");
      li.className = "alert-" + a.kind;
      const time = document.createElement("time");
      time.dataset.at = a.at;
      time.textContent = timeOfDay(a.at);
      const kind = document.createElement("b");
      kind.textContent = t("alert." + a.kind, a.kind);
      const subject = document.createElement("span");
      subject.textContent = a.subject;
      li.append(time, " ", kind, " ", subject);
      list.appendChild(li);
    }
    $("no-alerts").hidden = (alerts || []).length > 0;
  }
  function showPbx(connected) {
    const el = $("pbx");
    if (!el) return;
    el.className = "pbx " + (connected ? "up" : "down");
    el.textContent = t(connected ? "pbx.up" : "pbx.down");
  }
  async function showCharts(at) {
    if (!at || at === chartsAt) return;
    chartsAt = at;
    try {
      const r = await fetch("/supervisor/wallboard/charts", { credentials: "same-origin" });
      if (r.ok) $("charts").innerHTML = await r.text(); // drawn and escaped by the daemon
    } catch (e) { /* the next message tries again */ chartsAt = 0; }
  }

  function showWallboard(w) {
    if (!w) return;
    skew = w.at - Date.now() / 1000;
    if (w.zone) zone = w.zone;
    showPbx(w.pbx);
    showNumbers(w.numbers);
    showCampaigns(w.campaigns);
    showOperators(w.operators);
    showTiers(w.tiers);
    showAlerts(w.alerts);
    showCharts(w.charts_at);
    window.dialerdWallboard = { at: w.at, shownAt: performance.timeOrigin + performance.now(), n: (window.dialerdWallboard || { n: 0 }).n + 1 };
  }

  // --- listening -------------------------------------------------------------------------
  function notice(text) {
    const el = $("notice");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }
  function wireListen(row) {
    row.querySelectorAll("button.listen").forEach((b) => b.addEventListener("click", async () => {
      notice(t("js.listen_calling"));
      try {
        const r = await fetch("/supervisor/listen", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ operator: row.dataset.operator, mode: b.dataset.mode }) });
        const data = await r.json().catch(() => ({}));
        notice(r.ok ? t("js.listen_on") : (data.error && data.error.message) || t("js.listen_failed"));
      } catch (e) { notice(t("js.listen_failed")); }
    }));
  }
  document.querySelectorAll("#operators tbody tr").forEach(wireListen);

  // --- the stream --------------------------------------------------------------------------
  const events = new EventSource("/events");
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) window.location = "/supervisor";
  };
  events.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "hello") { notice(""); showWallboard(m.wallboard); }
    else if (m.type === "wallboard") showWallboard(m);
    else if (m.type === "state") showState(m); // at once; the next wallboard confirms it
    else if (m.type === "pbx") showPbx(m.connected);
  };
  events.onerror = () => notice(t("js.reconnecting"));
  document.querySelectorAll("#alerts time").forEach((el) => { el.textContent = timeOfDay(num(el.dataset.at)); });
  function tick() {
    tickOperators();
    tickOldest();
    const c = $("clock");
    if (c) c.textContent = timeOfDay(now());
  }
  tick();
  setInterval(tick, 1000);
})();
