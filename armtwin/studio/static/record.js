// Record page: connect a session, live cameras (JPEG over the websocket), joints plot, episode commands
// from buttons, keys (space y n x r) and a gamepad; spoken "ready" and a beep at episode end.
"use strict";
nav("record");
const $ = id => document.getElementById(id);
const KEYS = { " ": "start", y: "success", n: "failure", x: "discard", r: "reset" };
const PAD = { 0: "start", 3: "success", 1: "failure", 2: "discard", 9: "reset" }; // A, Y, B, X, Start
const HISTORY = 150;
let ws = null, last = null, hist = { leader: {}, follower: {} }, frames = {}, frameSeq = {}, fpsCount = {}, fpsT = performance.now();
window.studio = { framesReceived: 0, status: null, frames };

async function init() {
  const o = await api("/api/record/options");
  for (const id of o.env_ids) $("env_id").append(el("option", { value: id, title: o.descriptions[id] }, id));
  for (const l of o.leaders) $("leader").append(el("option", { value: l }, l));
  for (const t of o.targets) $("target").append(el("option", { value: t }, t));
  $("leader").value = "scripted";
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) if ($(k) && k !== "token") $(k).value = v;
  openSocket();
}

function form() {
  const body = {};
  for (const k of ["env_id", "leader", "target", "port", "leader_id", "net_listen", "follower_port", "follower_id", "record", "hz"])
    body[k] = $(k).value.trim();
  body.resume = $("resume").checked;
  const size = $("image_size").value.trim().toLowerCase();
  body.image_size = size && size !== "none" ? size.split("x").map(Number) : null;
  return body;
}

$("connect").onclick = async () => {
  $("error").textContent = ""; $("connect").disabled = true; $("state").textContent = "connecting…";
  try { await api("/api/record/connect", { method: "POST", body: form() }); }
  catch (e) { $("error").textContent = e.message; $("connect").disabled = false; }
};
$("disconnect").onclick = () => api("/api/record/disconnect", { method: "POST" }).catch(e => $("error").textContent = e.message);

function command(cmd) {
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ cmd }));
  else api(`/api/record/command/${cmd}`, { method: "POST" }).catch(e => $("error").textContent = e.message);
}
document.querySelectorAll("[data-cmd]").forEach(b => b.onclick = () => command(b.dataset.cmd));
document.addEventListener("keydown", e => {
  if (e.target.tagName === "INPUT") return;
  const cmd = KEYS[e.key]; if (cmd) { e.preventDefault(); command(cmd); }
});

let padPrev = {};
function pollPad() {
  for (const p of (navigator.getGamepads ? navigator.getGamepads() : [])) {
    if (!p) continue;
    $("pad").textContent = `gamepad: ${p.id.slice(0, 30)}`;
    p.buttons.forEach((b, i) => { const k = p.index + ":" + i; if (b.pressed && !padPrev[k] && PAD[i]) command(PAD[i]); padPrev[k] = b.pressed; });
  }
  requestAnimationFrame(pollPad);
}
requestAnimationFrame(pollPad);

function openSocket() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/record`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = ev => (typeof ev.data === "string" ? onStatus(JSON.parse(ev.data)) : onFrame(ev.data));
  ws.onclose = () => { $("notice").textContent = "connection to the studio lost; reconnecting…"; setTimeout(openSocket, 1000); };
  ws.onopen = () => { $("notice").textContent = ""; };
}

function onFrame(buf) {
  const b = new Uint8Array(buf), n = b[0];
  const name = new TextDecoder().decode(b.subarray(1, 1 + n));
  const blob = new Blob([b.subarray(1 + n)], { type: "image/jpeg" });
  // Decode off-screen and swap the element in only once decoded: the shown frame never blanks while the
  // next one loads, and a decode that finishes after a newer frame's is dropped.
  const seq = (frameSeq[name] = (frameSeq[name] || 0) + 1);
  const next = el("img", { id: `cam-${name}`, alt: name }), url = URL.createObjectURL(blob);
  next.src = url;
  next.decode().then(() => {
    const cur = frames[name];
    if (cur && cur.dataset.seq > seq) { URL.revokeObjectURL(url); return; }
    next.dataset.seq = seq;
    if (cur) { cur.replaceWith(next); URL.revokeObjectURL(cur.src); }
    else $("cams").append(el("div", { class: "cam" }, next, el("span", {}, name)));
    frames[name] = next;
  }, () => URL.revokeObjectURL(url));
  window.studio.framesReceived++; fpsCount[name] = (fpsCount[name] || 0) + 1;
  const now = performance.now();
  if (now - fpsT > 1000) {
    $("fps").textContent = Object.entries(fpsCount).map(([k, v]) => `${k} ${(v * 1000 / (now - fpsT)).toFixed(0)}`).join(", ");
    window.studio.fps = Object.fromEntries(Object.entries(fpsCount).map(([k, v]) => [k, v * 1000 / (now - fpsT)]));
    fpsCount = {}; fpsT = now;
  }
}

function onStatus(s) {
  if (s.type === "error") { $("error").textContent = s.message; return; }
  window.studio.status = s;
  $("connect").disabled = s.connected; $("disconnect").disabled = !s.connected;
  if (s.error) $("error").textContent = s.error;
  $("notice").textContent = s.notice || "";
  const state = !s.connected ? "not connected" : !s.running ? "stopped (follower holding)" : s.state;
  $("state").textContent = state; $("state").className = "big state-" + (s.state || "");
  $("saved").textContent = s.saved ?? 0; $("steps").textContent = s.episode_steps ?? 0;
  $("next_demo").textContent = s.next_demo || "-";
  $("hz_now").textContent = s.hz ? `${s.hz.toFixed(1)} / ${s.target_hz} Hz` : "-";
  if (last && last.state === "recording" && s.state !== "recording") beep(s.results.length && s.results[s.results.length - 1].success ? 988 : 330);
  if (last && last.connected && last.state !== "idle" && s.state === "idle" && s.running) say("ready");
  if (!last || !last.connected) { if (s.connected && s.running && s.state === "idle") say("ready"); }
  last = s;
  if (s.connected) {
    for (const side of ["leader", "follower"]) for (const [k, v] of Object.entries(s[side] || {})) {
      const a = hist[side][k] = hist[side][k] || []; a.push(v); if (a.length > HISTORY) a.shift();
    }
    const series = [];
    Object.keys(hist.follower).forEach((k, i) => {
      series.push({ name: k, values: hist.follower[k], color: COLORS[i % 6] });
      if (hist.leader[k]) series.push({ name: k, values: hist.leader[k], color: COLORS[i % 6], dash: true });
    });
    plot($("joints"), series, { title: Object.keys(hist.follower).join("  ") });
    const t = $("results"); t.innerHTML = "<tr><th>episode</th><th>steps</th><th>success</th></tr>";
    for (const r of s.results) t.append(el("tr", {}, el("td", {}, r.name || "-"), el("td", {}, r.steps), el("td", {}, r.success ? "yes" : "no")));
  }
}
init().catch(e => $("error").textContent = e.message);
