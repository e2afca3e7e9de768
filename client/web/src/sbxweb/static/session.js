// session.js — the session page: files, viewer/editor, chat, live output and
// terminal. Everything from the server is put in the page with textContent
// (never innerHTML), so file names, file contents and outputs stay text.
"use strict";
(function () {
  const app = document.getElementById("app");
  const sid = app.dataset.sid;
  const maxUpload = Number(app.dataset.maxUpload);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const api = "/api/s/" + encodeURIComponent(sid);
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const q = (p) => "?path=" + encodeURIComponent(p);

  async function call(method, url, body) {
    const opt = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    const r = await fetch(url, opt);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || r.status + " " + r.statusText);
    return data;
  }

  // ---------------------------------------------------------------- files
  let cwd = "";
  let open = null;

  async function loadTree() {
    const tree = $("tree");
    try {
      const r = await call("GET", api + "/files" + q(cwd));
      tree.replaceChildren();
      $("cwd").textContent = "/" + r.path;
      for (const e of r.entries) {
        const li = el("li", e.dir ? "dir" : "file", e.name);
        li.dataset.path = e.path;
        li.addEventListener("click", () => {
          if (e.dir) { cwd = e.path; loadTree(); } else { openFile(e.path); }
        });
        tree.appendChild(li);
      }
      tree.dataset.loaded = String(Date.now());
    } catch (err) {
      $("upload-msg").textContent = "files: " + err.message;
    }
  }

  function showView(which) {
    for (const id of ["view-text", "editor", "view-image"])
      $(id).classList.toggle("hidden", id !== which);
  }

  async function openFile(path) {
    $("view-msg").textContent = "";
    try {
      const r = await call("GET", api + "/file" + q(path));
      open = r;
      $("view-path").textContent = r.path;
      const dl = $("download");
      dl.href = api + "/raw" + q(r.path);
      for (const id of ["download", "delete"]) $(id).classList.remove("hidden");
      $("save").classList.add("hidden");
      $("edit").classList.toggle("hidden", r.text === null);
      if (r.image) {
        const img = $("view-image");
        img.src = api + "/raw" + q(r.path) + "&inline=1&t=" + Date.now();
        img.alt = r.path;
        showView("view-image");
      } else if (r.text === null) {
        $("view-msg").textContent = "binary or large file (" + r.size + " bytes): download it";
        showView(null);
      } else {
        const t = $("view-text");
        t.replaceChildren();
        const lines = r.text.split("\n");
        if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();  // the final newline
        lines.forEach((line, i) => {
          const tr = el("tr");
          tr.append(el("td", "ln", String(i + 1)), el("td", "src", line));
          t.appendChild(tr);
        });
        showView("view-text");
      }
    } catch (err) {
      $("view-msg").textContent = err.message;
    }
  }

  $("edit").addEventListener("click", () => {
    $("editor").value = open.text;
    showView("editor");
    $("save").classList.remove("hidden");
  });
  $("save").addEventListener("click", async () => {
    try {
      await call("POST", api + "/save", { path: open.path, content: $("editor").value });
      $("view-msg").textContent = "saved";
      await openFile(open.path);
    } catch (err) { $("view-msg").textContent = "not saved: " + err.message; }
  });
  $("delete").addEventListener("click", async () => {
    if (!open || !confirm("Delete " + open.path + "?")) return;
    try {
      await call("POST", api + "/delete", { path: open.path });
      $("view-msg").textContent = "deleted " + open.path;
      showView(null);
      loadTree();
    } catch (err) { $("view-msg").textContent = err.message; }
  });
  $("refresh").addEventListener("click", loadTree);
  $("up").addEventListener("click", () => {
    cwd = cwd.includes("/") ? cwd.slice(0, cwd.lastIndexOf("/")) : "";
    loadTree();
  });

  function upload(file) {
    const msg = $("upload-msg"), bar = $("upload-progress");
    if (file.size > maxUpload) {
      msg.textContent = file.name + " is " + file.size + " bytes; uploads are limited to " + maxUpload + " bytes";
      return;
    }
    const path = (cwd ? cwd + "/" : "") + file.name;
    const x = new XMLHttpRequest();
    x.open("PUT", api + "/upload" + q(path));
    x.setRequestHeader("X-CSRF-Token", csrf);
    bar.classList.remove("hidden");
    x.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = 100 * e.loaded / e.total; };
    x.onload = () => {
      bar.classList.add("hidden");
      let r = {};
      try { r = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
      msg.textContent = x.status === 200 ? "uploaded " + r.path : "upload failed: " + (r.error || x.status);
      loadTree();
    };
    x.onerror = () => { bar.classList.add("hidden"); msg.textContent = "upload failed: connection lost"; };
    x.send(file);
  }
  $("upload-input").addEventListener("change", (e) => { for (const f of e.target.files) upload(f); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    for (const f of e.dataTransfer.files) upload(f);
  });

  // ---------------------------------------------------------------- chat
  const chatLog = $("chat-log");
  let current = null;   // the assistant text element being streamed into

  function addChat(ev) {
    if (ev.t === "text" || ev.kind === "text") {
      if (!current) { current = el("div", "msg-text"); chatLog.appendChild(current); }
      current.textContent += ev.text;
    } else {
      current = null;
      const kind = ev.t || ev.kind;
      let text = ev.text;
      if (kind === "tool_call") text = "→ " + ev.name + " " + ev.args;
      if (kind === "tool_result") text = "← " + ev.name + ": " + ev.text;
      if (kind === "done") return;
      chatLog.appendChild(el("div", "msg-" + kind, text));
    }
    chatLog.scrollTop = chatLog.scrollHeight;
  }
  for (const ev of JSON.parse($("chat-history").textContent)) {
    addChat(ev);
    if (ev.kind === "text") current = null;
  }

  let chatAbort = null;
  $("chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text || chatAbort) return;
    $("chat-input").value = "";
    $("send").disabled = true; $("stop").disabled = false;
    chatAbort = new AbortController();
    current = null;
    window.sbxSentAt = performance.now();   // read by tests/bench/web
    window.sbxFirstEventAt = undefined;
    try {
      const r = await fetch(api + "/chat", {
        method: "POST", credentials: "same-origin", signal: chatAbort.signal,
        headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body: JSON.stringify({ message: text }),
      });
      if (!r.ok) {
        const d = await r.json().catch(() => ({}));
        addChat({ t: "error", text: d.error || String(r.status) });
      } else {
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const ev = JSON.parse(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
            if (ev.t !== "user" && window.sbxFirstEventAt === undefined)
              window.sbxFirstEventAt = performance.now();
            addChat(ev);
            if (ev.t === "tool_result") loadTree();
          }
        }
      }
    } catch (err) {
      addChat({ t: "error", text: "chat: " + err.message });
    } finally {
      chatAbort = null;
      $("send").disabled = false; $("stop").disabled = true;
      loadTree();
    }
  });
  $("stop").addEventListener("click", async () => {
    try { await call("POST", api + "/chat/stop", {}); } catch (err) { addChat({ t: "error", text: err.message }); }
  });

  // ---------------------------------------------------------------- live output + terminal
  const logPre = $("log");
  let lastSeq = 0, ws = null, backoff = 500, term = null, termId = "";
  const early = [];
  const MAX_LOG_LINES = 2000;

  function status(ok, text) {
    const b = $("status-banner");
    b.textContent = text;
    b.classList.toggle("hidden", ok);
    $("ws-state").textContent = ok ? "live" : "reconnecting…";
  }

  function onMessage(m) {
    // in order; a restarted sbxd numbers from 1 again, so the last one seen is the place
    if (m.seq) { lastSeq = m.seq; $("last-seq").textContent = "#" + lastSeq; }
    if (m.t === "log") {
      const span = el("span", m.stream, m.text);
      span.dataset.seq = String(m.seq);
      logPre.appendChild(span);
      if (!m.text.endsWith("\n")) logPre.appendChild(document.createTextNode("\n"));
      while (logPre.childNodes.length > MAX_LOG_LINES) logPre.removeChild(logPre.firstChild);
      logPre.parentElement.scrollTop = logPre.parentElement.scrollHeight;
      if (window.sbxOnLog) window.sbxOnLog(m, Date.now());   // a hook for tests/bench/web
    } else if (m.t === "term") {
      if (term && m.id === termId) term.write(m.data);
      else if (term && !termId) early.push(m);   // output can come before the open's answer
    } else if (m.t === "term_open") {
      termId = m.id;
      remember(termId);
      $("terminal").dataset.id = m.id;
      for (const e of early.splice(0)) if (e.id === termId) term.write(e.data);
    } else if (m.t === "term_end") {
      if (m.id === termId) {
        termId = ""; remember("");
        if (term) term.write("\r\n[" + m.text + "]\r\n");
      }
    } else if (m.t === "status") {
      status(m.ok, m.text);
    }
  }

  function send(m) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(m)); }

  function connect() {
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/s/" + encodeURIComponent(sid) + "/ws?after=" + lastSeq);
    ws.onopen = () => {
      backoff = 500;
      if (term) send({ t: "term_open", id: termId, cols: term.cols, rows: term.rows });
    };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.onclose = (e) => {
      status(false, e.code === 4008 ? "catching up…" : "connection lost; reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }
  window.sbxLive = { lastSeq: () => lastSeq, termId: () => termId, reconnect: () => ws && ws.close() };

  // The terminal this tab uses is remembered for the tab (sessionStorage), so a
  // reload reattaches to it; the server closes a terminal no page holds after
  // a short grace (terminal_grace_s).
  const termKey = "sbx-term:" + sid;
  function remember(id) {
    try { if (id) sessionStorage.setItem(termKey, id); else sessionStorage.removeItem(termKey); }
    catch (e) { /* storage disabled: a reload opens a new terminal */ }
  }
  function remembered() {
    try { return sessionStorage.getItem(termKey) || ""; } catch (e) { return ""; }
  }

  function openTerminal() {
    if (!term) {
      if (typeof Terminal === "undefined") {
        $("terminal").textContent = "the terminal library is missing (Debian package libjs-term.js)";
        return false;
      }
      term = new Terminal({ cols: 80, rows: 12, useStyle: true, screenKeys: false });
      term.open($("terminal"));
      term.on("data", (d) => { if (termId) send({ t: "term_in", id: termId, data: d }); });
      // term.js takes keys whose target is its element: make it focusable
      term.element.tabIndex = 0;
      term.element.addEventListener("click", () => { term.element.focus(); term.focus(); });
    }
    send({ t: "term_open", id: termId, cols: term.cols, rows: term.rows });
    return true;
  }
  $("term-open").addEventListener("click", () => {
    if (!openTerminal()) return;
    term.element.focus();
    term.focus();
  });

  loadTree();
  if (app.dataset.ended !== "1") {
    termId = remembered();
    if (termId && !openTerminal()) termId = "";   // reattached when the WebSocket opens
    connect();
  } else status(false, "this session has ended");
})();
