// Shared by the pages: navigation, JSON fetch with readable errors, audible cues, a canvas line plot.
"use strict";

function nav(active) {
  const n = document.createElement("nav");
  n.innerHTML = "<b>armtwin studio</b>" + ["record", "jobs", "dataset"]
    .map(p => `<a href="/${p}" class="${p === active ? "on" : ""}">${p}</a>`).join("");
  document.body.prepend(n);
}

async function api(url, opts = {}) {
  const init = Object.assign({ headers: { "content-type": "application/json" } }, opts);
  if (init.body && typeof init.body !== "string") init.body = JSON.stringify(init.body);
  const r = await fetch(url, init);
  const text = await r.text();
  let data; try { data = JSON.parse(text); } catch { data = text; }
  if (!r.ok) throw new Error((data && data.detail) || text || r.statusText);
  return data;
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== undefined) e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

let audioCtx = null;
function beep(freq = 880, ms = 150) {
  try {
    audioCtx = audioCtx || new AudioContext();
    const o = audioCtx.createOscillator(), g = audioCtx.createGain();
    o.frequency.value = freq; g.gain.value = 0.15; o.connect(g); g.connect(audioCtx.destination);
    o.start(); o.stop(audioCtx.currentTime + ms / 1000);
  } catch (e) { /* no audio device: the cue is optional */ }
}
function say(text) {
  try { if (window.speechSynthesis) speechSynthesis.speak(new SpeechSynthesisUtterance(text)); } catch (e) { }
}

const COLORS = ["#4aa3ff", "#3ecf6e", "#f5b94a", "#ff5d5d", "#c07cff", "#4ad6d6"];

// Draw series [{name, values, dash}] over x = 0..n-1 on a canvas; cursor: index of a vertical line;
// marks: [{at, label}] vertical boundary lines. Returns nothing; redraw to update.
function plot(canvas, series, { cursor = null, marks = [], title = "" } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth, H = canvas.clientHeight;
  // Resize the backing store only when the layout changed (a resize reallocates it on every redraw).
  if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
  }
  const c = canvas.getContext("2d"); c.setTransform(dpr, 0, 0, dpr, 0, 0);
  c.clearRect(0, 0, W, H);
  const n = Math.max(1, ...series.map(s => s.values.length));
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (const v of s.values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!isFinite(lo)) { lo = 0; hi = 1; } if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const L = 44, R = 8, T = 16, B = 14;
  const x = i => L + (W - L - R) * (n > 1 ? i / (n - 1) : 0), y = v => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  c.strokeStyle = "#2a313b"; c.fillStyle = "#8b95a5"; c.font = "10px system-ui";
  for (const v of [lo, (lo + hi) / 2, hi]) { c.beginPath(); c.moveTo(L, y(v)); c.lineTo(W - R, y(v)); c.stroke(); c.fillText(v.toFixed(2), 2, y(v) + 3); }
  c.fillText(title, L, 11);
  for (const m of marks) { c.strokeStyle = "#f5b94a"; c.setLineDash([3, 3]); c.beginPath(); c.moveTo(x(m.at), T); c.lineTo(x(m.at), H - B); c.stroke(); c.setLineDash([]); c.fillStyle = "#f5b94a"; c.fillText(m.label || "", x(m.at) + 2, H - 3); }
  series.forEach((s, k) => {
    c.strokeStyle = s.color || COLORS[k % COLORS.length]; c.lineWidth = 1.3; c.setLineDash(s.dash ? [4, 3] : []);
    c.beginPath(); s.values.forEach((v, i) => (i ? c.lineTo(x(i), y(v)) : c.moveTo(x(i), y(v)))); c.stroke();
  });
  c.setLineDash([]);
  if (cursor !== null) { c.strokeStyle = "#fff"; c.beginPath(); c.moveTo(x(cursor), T); c.lineTo(x(cursor), H - B); c.stroke(); }
  canvas.dataset.drawn = String(series.reduce((a, s) => a + s.values.length, 0));
}
