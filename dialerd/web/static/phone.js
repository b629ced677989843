// The browser phone (issue 14): this page registers to Asterisk with JsSIP over a WebSocket
// and takes the calls the queue or an agent_first offer sends to the operator's endpoint.
//
// - Credentials come from GET /operator/phone (no-store JSON for the signed-in operator),
//   never from the page's source.
// - The microphone is asked for once, before registering: without it the phone does not
//   register at all, so Asterisk sees the endpoint unavailable and no call is offered to a
//   phone that could not speak; the operator reads why and what to do.
// - JsSIP reconnects its WebSocket by itself (1-8 s back-off) and registers again on each
//   connect; a watchdog asks again whenever the socket is up but the phone is not registered
//   (Asterisk restarted and lost the contact, a refused or timed-out REGISTER).
// - Card and phone stay consistent (README "The browser phone"): a call of the phone is
//   tied to the card shown while it rings or talks; when the stream says that card's call
//   ended, the phone hangs up whatever it still has of it (a lost BYE); when the phone has
//   no call for a card whose call the daemon still thinks live (the phone dropped it, the
//   page was reloaded mid-call), the card says so instead of pretending the call is on.
"use strict";
(function () {
  const panel = document.getElementById("phone");
  if (!panel || !window.JsSIP) return;
  const texts = JSON.parse(document.getElementById("texts").textContent);
  const t = (key, values) =>
    (texts[key] || key).replace(/\{(\w+)\}/g, (_, k) => (values && k in values ? values[k] : ""));
  const $ = (id) => document.getElementById(id);
  const now = () => performance.timeOrigin + performance.now();
  const autoAnswer = panel.dataset.autoAnswer === "yes";
  const GRACE_MS = 3000; // the card and the INVITE travel separate ways: give them time to meet

  let ua = null;
  let iceServers = [];
  let registered = false;
  let registrations = 0; // how many times it registered (again, after a drop)
  let state = "starting";
  let authFailedAt = 0;
  let call = null; // {session, cardCallId, ringAt, answeredAt, firstRtpAt}
  let lastCall = null;
  const ended = new Set(); // call ids the daemon said ended
  const remoteAudio = new Audio();
  remoteAudio.autoplay = true;

  // --- what the operator sees ----------------------------------------------------------
  function showState(name, key, values) {
    state = name;
    const el = $("phone-state");
    el.className = "phone-state phone-" + name;
    el.textContent = t(key, values);
  }
  function problem(text) {
    const el = $("phone-problem");
    el.textContent = text || "";
    el.hidden = !text;
  }
  function showCall() {
    const box = $("phone-call");
    if (!call) {
      box.hidden = true;
      box.className = "phone-call";
      document.title = document.title.replace(/^☎ /, "");
      return;
    }
    const live = call.session.isEstablished();
    const held = live && call.session.isOnHold().local;
    const muted = live && call.session.isMuted().audio;
    box.hidden = false;
    box.className = "phone-call " + (live ? "phone-call-talking" : "phone-call-ringing");
    $("phone-call-state").textContent = t(
      live ? (held ? "js.phone_on_hold" : "js.phone_talking") : "js.phone_ringing");
    $("phone-answer").hidden = live;
    $("phone-mute").hidden = $("phone-hold").hidden = !live;
    $("phone-mute").textContent = t(muted ? "js.phone_unmute" : "js.phone_mute");
    $("phone-mute").setAttribute("aria-pressed", String(muted));
    $("phone-hold").textContent = t(held ? "js.phone_unhold" : "js.phone_hold");
    $("phone-hold").setAttribute("aria-pressed", String(held));
    if (!live && !document.title.startsWith("☎ ")) document.title = "☎ " + document.title;
    if (live) document.title = document.title.replace(/^☎ /, "");
  }

  // --- the ring: a tone made by WebAudio (no sound file) --------------------------------
  let audio = null;
  let ringTimer = null;
  function sound() {
    if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    return audio;
  }
  function tone(seconds) {
    const ctx = sound();
    if (ctx.state !== "running") {
      problem(t("js.phone_sound"));
      return;
    }
    const gain = ctx.createGain();
    gain.gain.value = 0.12;
    gain.connect(ctx.destination);
    for (const hz of [440, 480]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(gain);
      osc.start();
      osc.stop(ctx.currentTime + seconds);
    }
  }
  function startRing() {
    stopRing();
    tone(1.5);
    ringTimer = setInterval(() => tone(1.5), 4000);
  }
  function stopRing() {
    if (ringTimer) clearInterval(ringTimer);
    ringTimer = null;
  }
  // browsers keep sound off until the person touches the page once
  const unlock = () => {
    sound().resume().then(() => { if ($("phone-problem").textContent === t("js.phone_sound")) problem(""); });
  };
  document.addEventListener("click", unlock);
  document.addEventListener("keydown", unlock);

  // --- starting: microphone, credentials, registration ----------------------------------
  async function microphone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      problem(t("js.phone_mic_denied"));
      return false;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      stream.getTracks().forEach((track) => track.stop()); // asked once; each call opens its own
      return true;
    } catch (e) {
      problem(t(e && e.name === "NotFoundError" ? "js.phone_mic_missing" : "js.phone_mic_denied"));
      return false;
    }
  }
  async function start() {
    showState("connecting", "js.phone_connecting");
    if (!(await microphone())) {
      showState("offline", "js.phone_offline");
      return;
    }
    let response;
    try {
      response = await fetch("/operator/phone", { credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      setTimeout(start, 5000);
      return;
    }
    if (response.status === 401) { window.location = "/signin"; return; }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      showState("offline", "js.phone_offline");
      problem(t("js.phone_no_credentials", { why: (data.error && data.error.message) || response.status }));
      return;
    }
    problem("");
    connect(data);
  }
  function connect(data) {
    iceServers = data.ice_servers || [];
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(data.ws_url)],
      uri: data.uri,
      authorization_user: data.sip_user,
      password: data.password,
      display_name: data.display_name,
      register: true,
      register_expires: 120,
      session_timers: false,
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 8,
      user_agent: "dialerd browser phone",
    });
    ua.on("connecting", () => { if (!registered) showState("connecting", "js.phone_connecting"); });
    ua.on("disconnected", () => { registered = false; showState("offline", "js.phone_offline"); });
    ua.on("registered", () => {
      registered = true;
      registrations += 1;
      authFailedAt = 0;
      showState("ready", "js.phone_registered");
    });
    ua.on("unregistered", () => { registered = false; showState("connecting", "js.phone_connecting"); });
    ua.on("registrationFailed", (e) => {
      registered = false;
      if (e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR || e.cause === JsSIP.C.causes.REJECTED) {
        authFailedAt = Date.now();
      }
      showState("failed", "js.phone_failed", { why: e.cause });
    });
    ua.on("newRTCSession", (e) => { if (e.originator === "remote") incoming(e.session); });
    ua.start();
    setInterval(watchdog, 3000);
  }
  function watchdog() {
    if (!ua || registered || !ua.isConnected()) return;
    if (authFailedAt && Date.now() - authFailedAt < 30000) return; // wrong password: not every 3 s
    ua.register();
  }
  window.addEventListener("offline", () => showState("offline", "js.phone_offline"));
  window.addEventListener("online", () => { if (ua && ua.isConnected() && !registered) ua.register(); });
  // a closed tab unregisters at once, so the queue stops offering calls to it
  window.addEventListener("pagehide", () => { if (ua) ua.stop(); });

  // --- a call ------------------------------------------------------------------------------
  function incoming(session) {
    if (call) { // one call at a time: the operator is talking (Asterisk's queue knows it too)
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    const current = { session, cardCallId: null, ringAt: now(), answeredAt: null, firstRtpAt: null };
    call = lastCall = current;
    const who = session.remote_identity;
    const shown = who && (who.display_name || (who.uri && who.uri.user));
    $("phone-caller").textContent =
      shown && !/^anonymous$/i.test(shown) ? shown : t("js.phone_unknown_caller");
    session.on("peerconnection", (e) => hearRemote(e.peerconnection));
    session.on("accepted", () => {
      current.answeredAt = now();
      stopRing();
      firstPackets(current);
      showCall();
    });
    for (const name of ["confirmed", "hold", "unhold", "muted", "unmuted"]) session.on(name, showCall);
    session.on("ended", () => finished(current, null));
    session.on("failed", (e) => finished(current, e.cause));
    tieToCard();
    if (autoAnswer) {
      tone(0.2);
      answer();
    } else {
      startRing();
    }
    showCall();
  }
  function hearRemote(pc) {
    pc.addEventListener("track", (e) => {
      remoteAudio.srcObject = e.streams[0] || new MediaStream([e.track]);
      remoteAudio.play().catch(() => problem(t("js.phone_sound")));
    });
  }
  function answer() {
    if (!call || call.session.isEstablished()) return;
    call.session.answer({
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: iceServers },
    });
  }
  function finished(current, cause) {
    if (call !== current) return;
    call = null;
    stopRing();
    remoteAudio.srcObject = null;
    if (cause === JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS) problem(t("js.phone_mic_denied"));
    showCall();
    if (current.cardCallId) setTimeout(checkCard, GRACE_MS);
  }
  async function firstPackets(current) {
    // when media flows both ways (measured for the tests and the report)
    while (call === current && !current.firstRtpAt) {
      const s = await stats();
      if (s.inbound > 0 && s.outbound > 0) current.firstRtpAt = now();
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
  async function stats() {
    const out = { inbound: 0, outbound: 0, energy: 0, local: null, remote: null, codec: null };
    const pc = call && call.session.connection;
    if (!pc) return out;
    const report = await pc.getStats();
    const byId = {};
    report.forEach((r) => { byId[r.id] = r; });
    report.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") {
        out.inbound += r.packetsReceived || 0;
        out.energy += r.totalAudioEnergy || 0; // what the operator heard, summed
        if (byId[r.codecId]) out.codec = byId[r.codecId].mimeType;
      }
      if (r.type === "outbound-rtp" && r.kind === "audio") out.outbound += r.packetsSent || 0;
      if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") {
        out.local = byId[r.localCandidateId] && byId[r.localCandidateId].address;
        out.remote = byId[r.remoteCandidateId] && byId[r.remoteCandidateId].address;
      }
    });
    return out;
  }

  $("phone-answer").addEventListener("click", answer);
  function hangUp(current) {
    if (current && !current.session.isEnded()) {
      try { current.session.terminate(); } catch (e) { /* ended meanwhile */ }
    }
  }
  $("phone-hangup").addEventListener("click", () => hangUp(call));
  $("phone-mute").addEventListener("click", () => {
    if (!call || !call.session.isEstablished()) return;
    if (call.session.isMuted().audio) call.session.unmute({ audio: true });
    else call.session.mute({ audio: true });
  });
  $("phone-hold").addEventListener("click", () => {
    if (!call || !call.session.isEstablished()) return;
    if (call.session.isOnHold().local) call.session.unhold();
    else call.session.hold();
  });

  // --- card and phone --------------------------------------------------------------------
  function shownCard() {
    const card = document.getElementById("card");
    return card ? card.dataset.callId : null;
  }
  function tieToCard() {
    const id = shownCard();
    if (call && !call.cardCallId && id && !ended.has(id)) {
      call.cardCallId = id;
      const number = document.getElementById("card-phone"); // the queue may hide the caller
      if (number && $("phone-caller").textContent === t("js.phone_unknown_caller")) {
        $("phone-caller").textContent = number.textContent;
      }
    }
  }
  function checkCard() {
    const card = document.getElementById("card");
    if (!card) return;
    const id = card.dataset.callId;
    const mine = call && call.cardCallId === id;
    let note = card.querySelector(".phone-lost");
    if (mine || ended.has(id)) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "phone-lost";
      note.setAttribute("role", "alert");
      card.prepend(note);
    }
    note.textContent = t("js.phone_call_lost");
  }
  new MutationObserver(() => {
    tieToCard();
    if (shownCard()) setTimeout(checkCard, GRACE_MS);
  }).observe($("card-slot"), { childList: true });
  document.addEventListener("dialerd:message", (e) => {
    const m = e.detail;
    if (m.type === "ended") {
      ended.add(m.call_id);
      if (call && call.cardCallId === m.call_id) hangUp(call); // a BYE that was lost
      checkCard();
    } else if ((m.type === "card" || m.type === "hello") && (m.card || m).ended) {
      ended.add((m.card || m).call_id);
    }
  });
  if (shownCard()) setTimeout(checkCard, GRACE_MS); // a reload during a call

  // --- for the tests: read-only ------------------------------------------------------------
  window.dialerdPhone = Object.freeze({
    get registered() { return registered; },
    get registrations() { return registrations; },
    get state() { return state; },
    get call() {
      const c = call || lastCall;
      return c && { live: c === call, cardCallId: c.cardCallId, ringAt: c.ringAt,
                    answeredAt: c.answeredAt, firstRtpAt: c.firstRtpAt };
    },
    stats: stats,
  });
  start();
})();
