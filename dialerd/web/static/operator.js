// The operator's screen: follows /events, shows the card, sends results.
// A result that cannot be sent now (daemon restarting, call still live) waits in
// localStorage and is sent again; the operator always sees whether it was saved.
"use strict";
(function () {
  const texts = JSON.parse(document.getElementById("texts").textContent);
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const PENDING = "dialerd.pending";
  const t = (key, values) =>
    (texts[key] || key).replace(/\{(\w+)\}/g, (_, k) => (values && k in values ? values[k] : ""));
  const $ = (id) => document.getElementById(id);
  let presence = { presence: "offline", since: Date.now() / 1000, wrapup_until: null };
  let cardEnded = false;

  function notice(text) {
    const el = $("notice");
    el.textContent = text || "";
    el.hidden = !text;
  }
  function status(text) {
    const el = $("result-status");
    if (el) el.textContent = text || "";
  }
  function pending() {
    try { return JSON.parse(localStorage.getItem(PENDING) || "{}"); } catch (e) { return {}; }
  }
  function setPending(all) { localStorage.setItem(PENDING, JSON.stringify(all)); }

  // --- presence and counts ------------------------------------------------------------
  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  }
  function showPresence(state) {
    if (!state) return;
    presence = state;
    const el = $("presence");
    el.className = "presence presence-" + state.presence;
    $("presence-name").textContent = t("presence." + state.presence);
    const reason = state.pause_reason === "missed_call" ? t("pause.missed_call") : state.pause_reason || "";
    $("presence-reason").textContent = reason;
    $("ready").hidden = state.presence !== "wrapup";
    $("resume").hidden = state.presence !== "paused";
    $("pause").hidden = state.presence === "paused";
    tick();
  }
  function tick() {
    const now = Date.now() / 1000;
    const timer = $("presence-timer");
    if (presence.presence === "wrapup" && presence.wrapup_until) {
      const left = presence.wrapup_until - now;
      timer.textContent = left > 0 ? "−" + clock(left) : "";
    } else {
      timer.textContent = clock(now - presence.since);
    }
  }
  function showCounts(c) {
    if (!c) return;
    $("count-calls").textContent = c.calls;
    $("count-talk").textContent = clock(c.talk_s);
    $("count-confirmed").textContent = c.confirmed;
    $("count-revenue").textContent = c.revenue;
  }
  function showPbx(connected) {
    const el = $("pbx");
    el.className = "pbx " + (connected ? "up" : "down");
    el.textContent = t(connected ? "pbx.up" : "pbx.down");
  }

  // --- the card -----------------------------------------------------------------------
  function currentCard() { return $("card"); }
  function idle() {
    $("card-slot").innerHTML = "";
    const p = document.createElement("p");
    p.className = "idle";
    p.id = "idle";
    p.textContent = t("card.waiting");
    $("card-slot").appendChild(p);
  }
  function showCard(card) {
    const slot = $("card-slot");
    const shown = currentCard();
    if (!card) {
      if (shown && !pending()[shown.dataset.callId]) idle();
      return;
    }
    if (!shown || shown.dataset.callId !== card.call_id) {
      slot.innerHTML = card.html; // rendered and escaped by the daemon
      wireCard();
      window.dialerdCardShownAt = performance.timeOrigin + performance.now();
    }
    cardEnded = !!card.ended;
    const mine = pending()[card.call_id];
    if (mine) status(t("js.pending_call", { result: t("result." + mine.result) }));
  }
  function wireCard() {
    document.querySelectorAll(".result-button").forEach((b) =>
      b.addEventListener("click", () => choose(b.dataset.result)));
    document.querySelectorAll(".quick-choice").forEach((b) =>
      b.addEventListener("click", () => send("callback", { at: b.dataset.at })));
    const at = $("callback-at");
    if (at) at.addEventListener("input", customerTime);
    const survey = $("survey-transfer");
    if (survey) survey.addEventListener("click", async () => {
      const callId = $("card").dataset.callId;
      try {
        const r = await fetch("/operator/calls/" + encodeURIComponent(callId) + "/survey", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}" });
        const data = await r.json().catch(() => ({}));
        status(r.ok ? t("survey.sent") : (data.error && data.error.message) || String(r.status));
        if (r.ok) survey.disabled = true;
      } catch (e) { status(t("js.offline")); }
    });
    const save = $("callback-save");
    if (save) save.addEventListener("click", () => {
      if (!$("callback-at").value) return status(t("js.at_required"));
      send("callback", { at: $("callback-at").value });
    });
  }
  function customerTime() {
    const card = currentCard();
    const value = $("callback-at").value;
    const zone = card.dataset.customerZone;
    if (!value || !zone) return ($("callback-customer").textContent = "");
    // the picker's value is the centre's wall time: find that instant, show it in the customer's zone
    const guess = new Date(value + ":00Z");
    const centre = new Date(guess.toLocaleString("en-US", { timeZone: card.dataset.centreZone }));
    const instant = new Date(guess.getTime() - (centre.getTime() - guess.getTime()));
    const shown = instant.toLocaleString(document.documentElement.lang, {
      timeZone: zone, hour: "2-digit", minute: "2-digit", weekday: "short" });
    $("callback-customer").textContent = t("js.customer_time", { time: shown });
  }
  function choose(result) {
    if (result === "callback") {
      $("callback").hidden = false;
      const first = document.querySelector(".quick-choice");
      if (first) first.focus();
      return;
    }
    if (result === "complaint" && !$("note").value.trim()) {
      status(t("js.note_required"));
      $("note").focus();
      return;
    }
    send(result, result === "confirmed" ? { amount: $("amount").value.trim() } : {});
  }
  function send(result, extra) {
    const card = currentCard();
    if (!card) return;
    const body = Object.assign({ result: result, note: $("note").value, upsell: $("upsell").checked }, extra);
    const all = pending();
    all[card.dataset.callId] = body;
    setPending(all);
    status(t("js.saving"));
    flush();
  }

  // --- sending, and sending again ------------------------------------------------------
  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (const [callId, body] of Object.entries(pending())) {
        let response;
        try {
          response = await fetch("/operator/calls/" + encodeURIComponent(callId) + "/result", {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
            body: JSON.stringify(body) });
        } catch (e) {
          status(t("js.offline")); notice(t("js.offline"));
          continue;
        }
        if (response.status === 401) { window.location = "/signin"; return; }
        const data = await response.json().catch(() => ({}));
        if (response.status === 202) {  // the call is still live: sent again when it ends
          status(t("js.pending_call", { result: t("result." + body.result) }));
        } else if (response.ok) {
          drop(callId);
          notice("");
          status(t("js.saved", { result: t("result." + body.result) }));
          const card = currentCard();
          if (card && card.dataset.callId === callId) setTimeout(() => {
            const still = currentCard();
            if (still && still.dataset.callId === callId) idle();
          }, 800);
        } else if (response.status >= 500) {
          status(t("js.offline"));
        } else {
          drop(callId);
          status(t("js.not_saved", { why: (data.error && data.error.message) || response.status }));
        }
      }
    } finally {
      flushing = false;
    }
  }
  function drop(callId) { const all = pending(); delete all[callId]; setPending(all); }

  // --- pause, resume, ready ------------------------------------------------------------
  async function desk(action, body) {
    try {
      const r = await fetch("/operator/" + action, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body || {}) });
      const data = await r.json().catch(() => ({}));
      notice(r.ok ? "" : (data.error && data.error.message) || String(r.status));
    } catch (e) { notice(t("js.offline")); }
  }
  $("pause").addEventListener("click", () => desk("pause", { reason: $("pause-reason").value }));
  $("resume").addEventListener("click", () => desk("resume"));
  $("ready").addEventListener("click", () => desk("ready"));

  // --- keys: 1..8 pick a result (outside text fields), Alt+1..8 anywhere ----------------
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if ((typing && !e.altKey) || e.ctrlKey || e.metaKey) return;
    const button = document.querySelector('.result-button[aria-keyshortcuts="' + e.key + '"]');
    if (button) { e.preventDefault(); button.click(); }
  });

  // --- the stream ------------------------------------------------------------------------
  const events = new EventSource("/events");
  events.onmessage = (e) => {
    const m = JSON.parse(e.data);
    window.dialerdLastMessage = m;
    document.dispatchEvent(new CustomEvent("dialerd:message", { detail: m })); // phone.js listens
    switch (m.type) {
      case "hello":
        notice("");
        showPbx(m.pbx); showPresence(m.operator); showCounts(m.counts); showCard(m.card);
        flush();
        break;
      case "state": showPresence(m); break;
      case "counts": showCounts(m); break;
      case "pbx": showPbx(m.connected); break;
      case "card": showCard(m); break;
      case "ended": {
        const card = currentCard();
        if (card && card.dataset.callId === m.call_id) {
          cardEnded = true;
          if (m.outcome === "answered") {
            if (!pending()[m.call_id]) status(t("js.call_ended"));
          } else {
            status(t("js.no_result", { outcome: t("outcome." + m.outcome) }));
            setTimeout(() => { const c = currentCard(); if (c && c.dataset.callId === m.call_id) idle(); }, 3000);
          }
        }
        flush();
        break;
      }
      case "saved": {
        drop(m.call_id);
        const card = currentCard();
        if (card && card.dataset.callId === m.call_id) {
          status(t("js.saved", { result: t("result." + m.result) }));
          setTimeout(() => { const c = currentCard(); if (c && c.dataset.callId === m.call_id) idle(); }, 800);
        }
        break;
      }
    }
  };
  events.onerror = () => {
    // CONNECTING: the daemon is away and the browser retries by itself; CLOSED: the stream was
    // refused (signed out, session expired): the page reloads and lands on the sign-in form
    if (events.readyState === EventSource.CLOSED) window.location = "/operator";
    else notice(t("js.reconnecting"));
  };
  setInterval(tick, 1000);
  setInterval(() => { if (Object.keys(pending()).length) flush(); }, 3000);
  if (currentCard()) wireCard();
})();
