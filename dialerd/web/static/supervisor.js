// The supervisor's start page: each operator's row follows the stream's "state" messages.
"use strict";
(function () {
  const texts = JSON.parse(document.getElementById("texts").textContent);
  const events = new EventSource("/events");
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) window.location = "/supervisor";
  };
  events.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type !== "state") return;
    const row = document.querySelector('tr[data-operator="' + CSS.escape(m.operator) + '"]');
    if (!row) return;
    row.cells[1].className = "presence-" + m.presence;
    row.cells[1].textContent = texts["presence." + m.presence] || m.presence;
    row.cells[2].textContent = m.pause_reason || "";
  };
})();
