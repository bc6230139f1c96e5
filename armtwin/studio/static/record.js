// Record page: connect a session, live cameras (JPEG over the websocket), joints plot, episode commands
// from buttons, keys (space y n x r) and a gamepad; spoken "ready" and a beep at episode end.
"use strict";
nav("record");
const $ = id => document.getElementById(id);
const KEYS = { " ": "start", y: "success", n: "failure", x: "discard", r: "reset" };
const PAD = { 0: "start", 3: "success", 1: "failure", 2: "discard", 9: "reset" }; // A, Y, B, X, Start
const HISTORY = 75;  // status messages kept in the joints plot: ~7.5 s at 10/s
let ws = null, last = null, hist = { leader: {}, follower: {} }, frames = {}, cams = {}, fpsCount = {}, fpsT = performance.now();
// received / shown: frames per camera that arrived / were decoded into view (read by benchmarks/studio_stream.py).
window.studio = { framesReceived: 0, status: null, frames, received: {}, shown: {} };

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

// The Gamepad API exposes a pad after its first button press ("gamepadconnected"); poll only while one
// is connected (an idle page then does no work per display frame).
let padPrev = {}, padPolling = false;
function pollPad() {
  const pads = (navigator.getGamepads ? [...navigator.getGamepads()] : []).filter(p => p);
  for (const p of pads) {
    setText("pad", `gamepad: ${p.id.slice(0, 30)}`);
    p.buttons.forEach((b, i) => { const k = p.index + ":" + i; if (b.pressed && !padPrev[k] && PAD[i]) command(PAD[i]); padPrev[k] = b.pressed; });
  }
  padPolling = pads.length > 0;
  if (padPolling) requestAnimationFrame(pollPad); else setText("pad", "");
}
window.addEventListener("gamepadconnected", () => { if (!padPolling) { padPolling = true; requestAnimationFrame(pollPad); } });

function openSocket() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/record`);
  ws.binaryType = "arraybuffer";
  ws.onmessage = ev => (typeof ev.data === "string" ? onStatus(JSON.parse(ev.data)) : onFrame(ev.data));
  ws.onclose = () => { $("notice").textContent = "connection to the studio lost; reconnecting…"; setTimeout(openSocket, 1000); };
  ws.onopen = () => { $("notice").textContent = ""; };
}

// Camera frames: one canvas per camera, which keeps showing the last frame until the next one is drawn
// (never blank, no DOM change per frame). JPEGs are decoded off the main thread: WebCodecs' ImageDecoder
// where the page is a secure context (loopback is), else createImageBitmap on a Blob (a Blob goes through
// the browser process's blob registry: more work per frame). One decode in flight per camera; frames that
// arrive meanwhile replace each other, so a busy page shows the newest frame instead of queueing.
function onFrame(buf) {
  const b = new Uint8Array(buf), n = b[0];
  const name = new TextDecoder().decode(b.subarray(1, 1 + n));
  window.studio.framesReceived++; window.studio.received[name] = (window.studio.received[name] || 0) + 1;
  fpsCount[name] = (fpsCount[name] || 0) + 1;
  const cam = cams[name] || addCamera(name);
  cam.pending = b.subarray(1 + n);
  if (!cam.busy) showFrames(cam);
  const now = performance.now();
  if (now - fpsT > 1000) {
    window.studio.fps = Object.fromEntries(Object.entries(fpsCount).map(([k, v]) => [k, v * 1000 / (now - fpsT)]));
    setText("fps", Object.entries(window.studio.fps).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", "));
    fpsCount = {}; fpsT = now;
  }
}

function addCamera(name) {
  const canvas = el("canvas", { id: `cam-${name}`, width: 0, height: 0 });
  $("cams").append(el("div", { class: "cam" }, canvas, el("span", {}, name)));
  frames[name] = canvas;
  return (cams[name] = { name, canvas, ctx: canvas.getContext("2d"), pending: null, busy: false });
}

async function showFrames(cam) {
  cam.busy = true;
  while (cam.pending) {
    const jpeg = cam.pending; cam.pending = null;
    let img;
    try { img = await decodeJpeg(jpeg); } catch (e) { continue; }  // a corrupt frame: wait for the next
    const w = img.displayWidth || img.width, h = img.displayHeight || img.height;
    if (cam.canvas.width !== w || cam.canvas.height !== h) { cam.canvas.width = w; cam.canvas.height = h; }
    cam.ctx.drawImage(img, 0, 0);
    img.close();
    window.studio.shown[cam.name] = (window.studio.shown[cam.name] || 0) + 1;
  }
  cam.busy = false;
}

async function decodeJpeg(bytes) {
  if (typeof ImageDecoder !== "undefined") {
    const d = new ImageDecoder({ data: bytes, type: "image/jpeg" });
    try { return (await d.decode()).image; } finally { d.close(); }
  }
  return createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
}

// Status messages (~10/s): the page touches only what changed (a text set to the same value still costs
// the browser a style and layout pass), and rebuilds the episode table only when an episode ended.
function setText(id, text) { const e = $(id); text = String(text); if (e.textContent !== text) e.textContent = text; }
let resultsKey = null;

function onStatus(s) {
  if (s.type === "error") { $("error").textContent = s.message; return; }
  window.studio.status = s;
  $("connect").disabled = s.connected; $("disconnect").disabled = !s.connected;
  if (s.error) setText("error", s.error);
  setText("notice", s.notice || "");
  const state = !s.connected ? "not connected" : !s.running ? "stopped (follower holding)" : s.state;
  setText("state", state);
  const cls = "big state-" + (s.state || ""); if ($("state").className !== cls) $("state").className = cls;
  setText("saved", s.saved ?? 0); setText("steps", s.episode_steps ?? 0);
  setText("next_demo", s.next_demo || "-");
  setText("hz_now", s.hz ? `${s.hz.toFixed(1)} / ${s.target_hz} Hz` : "-");
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
    const key = JSON.stringify(s.results);
    if (key !== resultsKey) {
      resultsKey = key;
      const t = $("results"); t.innerHTML = "<tr><th>episode</th><th>steps</th><th>success</th></tr>";
      for (const r of s.results) t.append(el("tr", {}, el("td", {}, r.name || "-"), el("td", {}, r.steps), el("td", {}, r.success ? "yes" : "no")));
    }
  }
}
init().catch(e => $("error").textContent = e.message);
