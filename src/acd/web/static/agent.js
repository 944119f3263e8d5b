// The agent's desk: one EventSource (/agent/stream) cut to this agent by the console.
// Data reaches the page only through textContent (never innerHTML).  The call ringing or
// talking to the agent pops with its number and IVR data; its earlier contacts today are
// fetched once per call (that request is the audited screen pop).
"use strict";
(function () {
  var desk = document.getElementById("desk");
  if (!desk) { return; }
  function labelsOf(id) { var n = document.getElementById(id); return n ? JSON.parse(n.getAttribute("data-labels")) : {}; }
  var labels = Object.assign(labelsOf("live-labels"), labelsOf("agent-labels"));
  function word(key) { return labels[key] || key; }
  function $(id) { return document.getElementById(id); }
  function el(tag, text) { var node = document.createElement(tag); if (text !== undefined && text !== null) { node.textContent = String(text); } return node; }
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return (h > 0 ? h + ":" + two(m) : m) + ":" + two(r);
  }
  var offset = 0, since = 0, callWait = null, receivedAt = 0, poppedCall = null, shownCall = null;
  function nowLocal() { return Date.now() / 1000; }

  function post(url, body) {
    var note = $("note");
    return window.acdFetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        note.textContent = response.ok ? word("done") : word("failed") + ": " + (data.detail || response.status);
        note.className = response.ok ? "notice" : "error";
      });
    }).catch(function () { note.textContent = word("failed"); note.className = "error"; });
  }

  ["do-login", "do-logout", "do-unpause"].forEach(function (id) {
    $(id).addEventListener("click", function () { post("/agent/" + $(id).getAttribute("data-action")); });
  });
  $("do-pause").addEventListener("click", function () {
    var reason = $("pause-reason").value;
    post("/agent/pause", reason ? { reason: reason } : {});
  });

  function renderMe(me) {
    var state = me ? me.state : "logged_out";
    var badge = $("state");
    badge.textContent = word(state);
    badge.className = "state state-" + state;
    desk.setAttribute("data-state", state);
    since = me ? me.since : 0;
    $("reason").textContent = me && state !== "available" ? (me.reason || "") : "";
    $("pending").textContent = me && me.pending ? me.pending : "";
    $("do-login").hidden = state !== "logged_out";
    $("do-logout").hidden = state === "logged_out";
    $("pause-box").hidden = state === "logged_out" || state === "paused";
    $("do-unpause").hidden = state !== "paused";
    renderWrapUp(me && me.wrap_up);
  }

  function renderWrapUp(wrap) {
    var box = $("wrap-up");
    box.hidden = !wrap;
    var codes = $("codes");
    var key = wrap ? wrap.call_id + "|" + wrap.codes.map(function (c) { return c.code; }).join(",") : "";
    if (codes.getAttribute("data-key") === key) { return; }
    codes.setAttribute("data-key", key);
    codes.replaceChildren();
    if (!wrap) { return; }
    $("wrap-up-kind").textContent = wrap.required ? word("required") : word("optional");
    box.setAttribute("data-call", wrap.call_id);
    wrap.codes.forEach(function (c) {
      var button = el("button", c.label + (c.digit ? " (*48" + c.digit + ")" : ""));
      button.type = "button";
      button.setAttribute("data-code", c.code);
      button.addEventListener("click", function () { post("/agent/disposition", { code: c.code, call_id: wrap.call_id }); });
      codes.appendChild(button);
    });
  }

  function renderCall(call, state) {
    if (!call && state !== "wrap_up") { shownCall = null; }
    if (call) { shownCall = call; }
    var shown = shownCall;
    $("call").hidden = !shown;
    $("no-call").hidden = !!shown;
    if (!shown) { callWait = null; $("earlier").replaceChildren(); $("call-box").removeAttribute("data-call"); return; }
    $("call-box").setAttribute("data-call", shown.id);
    $("call-number").textContent = shown.number || shown.caller || "";
    $("call-queue").textContent = shown.queue;
    callWait = call ? shown.waited_s : null;
    $("call-wait").textContent = duration(shown.waited_s);
    $("call-path").textContent = (shown.ivr_path || []).join(" › ");
    var data = shown.attached || {};
    $("call-data").textContent = Object.keys(data).map(function (k) { return k + ": " + data[k]; }).join(", ");
    if (call && poppedCall !== call.id) {
      poppedCall = call.id;
      window.acdFetch("/agent/contacts?call_id=" + encodeURIComponent(call.id)).then(function (r) { return r.json(); }).then(function (body) {
        var list = $("earlier");
        list.replaceChildren();
        var contacts = body.contacts || [];
        if (!contacts.length) { list.appendChild(el("li", word("none_earlier"))); }
        contacts.forEach(function (c) {
          var at = new Date(c.at * 1000).toLocaleTimeString();
          var text = at + " · " + (c.queue || "IVR") + " · " + word(c.outcome) + (c.agent ? " · " + c.agent : "") + (c.disposition ? " · " + c.disposition : "");
          var li = el("li", text);
          li.setAttribute("data-contact", c.call_id);
          list.appendChild(li);
        });
      }).catch(function () {});
    }
  }

  function tick() {
    var now = nowLocal() + offset;
    $("in-state").textContent = since > 0 ? duration(now - since) : "–";
    if (callWait !== null) { $("call-wait").textContent = duration(callWait + nowLocal() - receivedAt); }
  }

  function apply(snapshot) {
    var st = snapshot.status || {};
    var status = $("live-status");
    if ("me" in snapshot) {
      receivedAt = nowLocal();
      offset = (snapshot.sent || receivedAt) - receivedAt;
      renderMe(snapshot.me);
      renderCall(snapshot.my_call, snapshot.me ? snapshot.me.state : "logged_out");
      tick();
    }
    status.className = "live-status " + (st.stale ? "stale" : "live");
    status.textContent = st.stale ? word("connecting") : word("updated") + " " + new Date().toLocaleTimeString();
    document.body.setAttribute("data-seq", String(snapshot.seq || 0));
  }

  function connect() {
    var source = new EventSource("/agent/stream");
    source.addEventListener("snapshot", function (event) { apply(JSON.parse(event.data)); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        fetch("/live/check", { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (response) {
          if (response.status === 401 || response.status === 403) {
            status.textContent = word("session_ended");
            window.setTimeout(function () { window.location.reload(); }, 3000);
          } else {
            window.setTimeout(connect, 3000);
          }
        }).catch(function () { window.setTimeout(connect, 3000); });
      }
    });
  }
  var status = $("live-status");
  connect();
  window.setInterval(tick, 1000);
})();
