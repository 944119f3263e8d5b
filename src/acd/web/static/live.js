// Wallboard and calls view: one EventSource (/live/stream), tables rebuilt from each snapshot.
// Data only ever reaches the page through textContent (never innerHTML): a caller's data
// cannot become markup.  Ages (waits, time in state) tick every second between snapshots
// from the engine's clock, so a quiet queue still shows its caller waiting longer.
"use strict";
(function () {
  var labelNode = document.getElementById("live-labels");
  var labels = labelNode ? JSON.parse(labelNode.getAttribute("data-labels")) : {};
  var callsTable = document.getElementById("calls");
  var status = document.getElementById("live-status");
  var last = null;        // the latest snapshot
  var offset = 0;         // engine clock - local clock (s)
  var receivedAt = 0;     // local time the snapshot arrived (s)

  function word(key) { return labels[key] || key; }
  function nowLocal() { return Date.now() / 1000; }
  function engineNow() { return nowLocal() + offset; }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function duration(s) {
    if (s === null || s === undefined) { return "–"; }
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }
  function pct(r) { return r === null || r === undefined ? "–" : Math.round(r * 100) + "%"; }
  function num(td) { td.className = (td.className ? td.className + " " : "") + "num"; return td; }
  // the contract's time zone (routing.timezone, sent with the figures), not the screen's
  var zone = null;
  function clockText(ts) {
    try { return new Date(ts * 1000).toLocaleTimeString(undefined, zone ? { timeZone: zone } : {}); }
    catch (error) { return new Date(ts * 1000).toLocaleTimeString(); }
  }

  function setStatus(kind, text) {
    if (!status) { return; }
    status.className = "live-status " + kind;
    status.textContent = text;
    document.body.classList.toggle("stale", kind === "stale" || kind === "ended");
  }

  function slCell(value, target) {
    var td = num(el("td", pct(value)));
    if (value !== null && value !== undefined) { td.classList.add(value < target ? "bad" : "good"); }
    return td;
  }

  function figuresRow(item, target, threshold, isQueue) {
    var tr = el("tr");
    tr.setAttribute("data-name", item.name);
    if (item.under_target) { tr.classList.add("alarm"); }
    tr.appendChild(el("td", item.name));
    tr.appendChild(num(el("td", item.waiting, "waiting")));
    var longest = num(el("td", "", "longest"));
    longest.setAttribute("data-base", item.longest_wait_s);
    longest.setAttribute("data-waiting", item.waiting);
    if (threshold) { longest.setAttribute("data-threshold", threshold); }
    tr.appendChild(longest);
    tr.appendChild(slCell(item.interval.service_level, target));
    tr.appendChild(slCell(item.day.service_level, target));
    if (isQueue) { tr.appendChild(num(el("td", pct(item.target)))); }
    tr.appendChild(num(el("td", pct(item.day.abandon_rate), "abandon-day")));
    // ASA and AHT of the current quarter hour (what a supervisor can still act on) and of the day
    tr.appendChild(num(el("td", duration(item.interval.asa_s), "asa-interval")));
    tr.appendChild(num(el("td", duration(item.day.asa_s), "asa-day")));
    tr.appendChild(num(el("td", duration(item.interval.aht_s), "aht-interval")));
    tr.appendChild(num(el("td", duration(item.day.aht_s), "aht-day")));
    ["logged_in", "available", "on_call", "paused"].forEach(function (key) {
      tr.appendChild(num(el("td", item.agents[key], key)));
    });
    return tr;
  }

  function fill(id, rows) {
    var table = document.getElementById(id);
    if (!table) { return; }
    var body = table.tBodies[0];
    body.replaceChildren.apply(body, rows);
  }

  function stateBadge(state) { return el("span", word(state), "state state-" + state); }

  function renderWallboard(snapshot) {
    var stats = snapshot.stats;
    if (!stats) { return; }
    var targets = {};
    stats.queues.forEach(function (q) { targets[q.name] = q.target; });
    fill("queues", stats.queues.map(function (q) { return figuresRow(q, q.target, q.threshold_s, true); }));
    // a skill has no target of its own: the strictest of the queues that need it
    fill("skills", stats.skills.map(function (s) {
      var target = 0;
      stats.queues.forEach(function (q) { if (q.skills.indexOf(s.name) >= 0) { target = Math.max(target, q.target); } });
      return figuresRow(s, target, 0, false);
    }));
    if (!callsTable) {
      fill("agents", snapshot.agents.map(function (a) {
        var tr = el("tr");
        tr.setAttribute("data-agent", a.id);
        tr.appendChild(el("td", a.name || a.id));
        var st = el("td"); st.appendChild(stateBadge(a.state)); tr.appendChild(st);
        tr.appendChild(el("td", a.state === "paused" || a.pending ? (a.pending || a.reason) : ""));
        var age = num(el("td", "", "age"));
        if (a.since > 0) { age.setAttribute("data-since", a.since); }
        tr.appendChild(age);
        tr.appendChild(num(el("td", a.handled_today)));
        return tr;
      }));
    }
  }

  // ---------------------------------------------------------------- calls view
  var canActOnCalls = callsTable && callsTable.getAttribute("data-act-calls") === "1";
  var canActOnAgents = callsTable && callsTable.getAttribute("data-act-agents") === "1";
  var canMonitor = callsTable && callsTable.getAttribute("data-monitor") === "1";
  var myPhone = document.getElementById("my-phone");
  if (myPhone) {  // the supervisor's own phone, rung first when they listen: kept by this browser
    myPhone.value = window.localStorage.getItem("acd.my_phone") || "";
    myPhone.addEventListener("change", function () { window.localStorage.setItem("acd.my_phone", myPhone.value.trim()); });
  }

  function post(url, body, note) {
    return window.acdFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        note.textContent = response.ok ? word("done") : word("failed") + ": " + (data.detail || response.status);
        note.className = response.ok ? "notice" : "error";
      });
    }).catch(function () { note.textContent = word("failed"); note.className = "error"; });
  }

  function actionForm(label, fields, onSubmit) {
    var form = el("form");
    fields.forEach(function (f) { form.appendChild(f); });
    var button = el("button", label);
    button.type = "submit";
    form.appendChild(button);
    form.addEventListener("submit", function (event) { event.preventDefault(); onSubmit(form); });
    return form;
  }

  function callActions(call, queues) {
    var td = el("td", null, "actions");
    if (canMonitor && call.state === "connected" && call.agent_id) {
      var heard = el("span", "", "");
      ["listen", "whisper", "barge"].forEach(function (mode) {
        var button = el("button", word(mode));
        button.type = "button";
        button.setAttribute("data-monitor", mode);
        button.addEventListener("click", function () {
          var phone = myPhone ? myPhone.value.trim() : "";
          if (!phone) { heard.textContent = word("my_phone"); heard.className = "error"; if (myPhone) { myPhone.focus(); } return; }
          post("/agents/" + encodeURIComponent(call.agent_id) + "/monitor", { mode: mode, supervisor: phone }, heard);
        });
        td.appendChild(button);
      });
      td.appendChild(heard);
      return td;
    }
    if (!canActOnCalls || call.state === "connected") { return td; }
    var note = el("span", "", "");
    var priority = el("input");
    priority.type = "number"; priority.min = "-1000"; priority.max = "1000"; priority.value = call.priority;
    priority.name = "priority"; priority.setAttribute("aria-label", word("set"));
    td.appendChild(actionForm(word("set"), [priority], function () {
      post("/calls/" + encodeURIComponent(call.id) + "/priority", { priority: parseInt(priority.value, 10) }, note);
    }));
    var select = el("select");
    select.name = "queue"; select.setAttribute("aria-label", word("move"));
    queues.forEach(function (q) { if (q !== call.queue) { var o = el("option", q); o.value = q; select.appendChild(o); } });
    td.appendChild(actionForm(word("move"), [select], function () {
      post("/calls/" + encodeURIComponent(call.id) + "/move", { queue: select.value }, note);
    }));
    td.appendChild(note);
    return td;
  }

  function renderCalls(snapshot) {
    if (!callsTable || !snapshot.calls) { return; }
    var queues = snapshot.stats ? snapshot.stats.queues.map(function (q) { return q.name; }) : [];
    var agentNames = {};
    (snapshot.agents || []).forEach(function (a) { agentNames[a.id] = a.name || a.id; });
    var body = callsTable.tBodies[0];
    var existing = {};
    Array.prototype.forEach.call(body.rows, function (row) { existing[row.getAttribute("data-call")] = row; });
    var rows = snapshot.calls.map(function (c) {
      var key = JSON.stringify([c.state, c.queue, c.priority, c.agent_id, c.caller, c.number || "", c.attached, c.ivr_path]);
      var old = existing[c.id];
      if (old && old.getAttribute("data-key") === key) {  // unchanged: keep the row (and a half-typed priority)
        old.querySelector("td.position").textContent = c.position === null ? "" : c.position;
        return old;
      }
      var tr = el("tr");
      tr.setAttribute("data-call", c.id);
      tr.setAttribute("data-key", key);
      tr.appendChild(el("td", c.number || c.caller || "–", c.number ? "" : "masked"));
      tr.appendChild(el("td", c.queue));
      var st = el("td"); st.appendChild(stateBadge(c.state)); tr.appendChild(st);
      tr.appendChild(num(el("td", c.position === null ? "" : c.position, "position")));
      tr.appendChild(num(el("td", c.priority, "priority")));
      var wait = num(el("td", "", "wait"));
      wait.setAttribute("data-since", c.wait_origin);
      tr.appendChild(wait);
      tr.appendChild(el("td", (c.ivr_path || []).join(" › "), "path"));
      var data = Object.keys(c.attached || {}).map(function (k) { return k + ": " + c.attached[k]; }).join(", ");
      tr.appendChild(el("td", data, c.number ? "" : "masked"));
      tr.appendChild(el("td", c.agent_id ? agentNames[c.agent_id] || c.agent_id : ""));
      tr.appendChild(callActions(c, queues));
      return tr;
    });
    replaceRows(body, rows);
    renderAgentControls(snapshot.agents || []);
  }

  // Only when rows come or go or change order: re-inserting a row would blur its input.
  function replaceRows(body, rows) {
    var same = body.rows.length === rows.length;
    for (var i = 0; same && i < rows.length; i++) { same = body.rows[i] === rows[i]; }
    if (!same) { body.replaceChildren.apply(body, rows); }
  }

  function renderAgentControls(agents) {
    var table = document.getElementById("agent-controls");
    if (!table) { return; }
    var body = table.tBodies[0];
    var existing = {};
    Array.prototype.forEach.call(body.rows, function (row) { existing[row.getAttribute("data-agent")] = row; });
    replaceRows(body, agents.map(function (a) {
      var key = a.state + "|" + a.reason + "|" + (a.pending || "") + "|" + a.since;
      var old = existing[a.id];
      if (old && old.getAttribute("data-key") === key) { return old; }
      var tr = el("tr");
      tr.setAttribute("data-agent", a.id);
      tr.setAttribute("data-key", key);
      tr.appendChild(el("td", a.name || a.id));
      var st = el("td"); st.appendChild(stateBadge(a.state)); tr.appendChild(st);
      tr.appendChild(el("td", a.pending || (a.state === "paused" ? a.reason : "")));
      var age = num(el("td", "", "age"));
      if (a.since > 0) { age.setAttribute("data-since", a.since); }
      tr.appendChild(age);
      var td = el("td", null, "actions");
      if (canActOnAgents) {
        var note = el("span");
        var actions = a.state === "logged_out" ? ["login"] : a.state === "paused" ? ["unpause", "logout"] : ["pause", "logout"];
        actions.forEach(function (action) {
          var button = el("button", word(action));
          button.type = "button";
          button.setAttribute("data-action", action);
          button.addEventListener("click", function () { post("/agents/" + encodeURIComponent(a.id) + "/" + action, {}, note); });
          td.appendChild(button);
        });
        td.appendChild(note);
      }
      tr.appendChild(td);
      return tr;
    }));
  }

  // ---------------------------------------------------------------- ages tick every second
  function tick() {
    var now = engineNow();
    var elapsed = nowLocal() - receivedAt;
    document.querySelectorAll("[data-since]").forEach(function (td) {
      td.textContent = duration(now - parseFloat(td.getAttribute("data-since")));
    });
    document.querySelectorAll("td.longest").forEach(function (td) {
      var waiting = parseInt(td.getAttribute("data-waiting"), 10);
      var value = parseFloat(td.getAttribute("data-base")) + (waiting > 0 ? elapsed : 0);
      td.textContent = waiting > 0 ? duration(value) : "–";
      var threshold = parseFloat(td.getAttribute("data-threshold") || "0");
      td.classList.toggle("bad", waiting > 0 && threshold > 0 && value > threshold);
    });
  }

  function apply(snapshot) {
    var st = snapshot.status || {};
    if (snapshot.stats || snapshot.calls) {
      last = snapshot;
      receivedAt = nowLocal();
      offset = (snapshot.stats ? snapshot.stats.at : snapshot.sent) - receivedAt;
      if (snapshot.stats && snapshot.stats.timezone) { zone = snapshot.stats.timezone; }
      renderWallboard(snapshot);
      renderCalls(snapshot);
      tick();
    }
    if (st.stale) {
      var since = st.stale_since ? clockText(st.stale_since) : "?";
      setStatus(last ? "stale" : "connecting", last ? word("stale").replace("{since}", since) : word("connecting"));
    } else {
      setStatus("live", word("updated") + " " + clockText(engineNow()));
    }
    document.body.setAttribute("data-seq", String(snapshot.seq || 0));
  }

  function connect() {
    var url = "/live/stream" + (callsTable ? "?calls=1" : "");
    var source = new EventSource(url);
    source.addEventListener("snapshot", function (event) { apply(JSON.parse(event.data)); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // refused (an expired session gets the login page, not a stream): ask whether we are still in
        fetch("/live/check", { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (response) {
            if (response.status === 401 || response.status === 403) {
              setStatus("ended", word("session_ended"));
              window.setTimeout(function () { window.location.reload(); }, 3000);
            } else {
              window.setTimeout(connect, 3000);
            }
          }).catch(function () { window.setTimeout(connect, 3000); });
      }
    });
  }

  // kiosk: the first click or key goes full screen (browsers allow it only after a gesture)
  if (document.body.classList.contains("kiosk") && document.documentElement.requestFullscreen) {
    var goFull = function () {
      if (!document.fullscreenElement) { document.documentElement.requestFullscreen().catch(function () {}); }
    };
    document.addEventListener("click", goFull);
    document.addEventListener("keydown", goFull);
  }

  if (document.getElementById("queues") || callsTable) {
    connect();
    window.setInterval(tick, 1000);
  }
})();
