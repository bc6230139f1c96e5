// Dataset page: list datasets under the root, one dataset's episodes (exclude + filtered copy),
// one episode's camera videos in sync with plots of state/action per joint and the subtask signals.
"use strict";
nav("dataset");
const $ = id => document.getElementById(id);
let current = null, ep = null, excluded = new Set(), videos = [], playing = false;
window.studio = { episode: null };

async function loadList() {
  const d = await api("/api/datasets"), box = $("list"); box.innerHTML = "";
  if (!d.datasets.length) box.textContent = `no recordings or LeRobot datasets under ${d.root}`;
  for (const s of d.datasets) box.append(el("div", {}, el("a", { href: `?path=${encodeURIComponent(s.path)}`, "data-path": s.path, onclick: e => { e.preventDefault(); history.pushState({}, "", `?path=${encodeURIComponent(s.path)}`); openDataset(s.path); } }, s.path), ` (${s.kind})`));
}

async function openDataset(path) {
  current = path; excluded = new Set(); $("dserror").textContent = ""; $("episodes").innerHTML = ""; $("meta").textContent = "";
  let d;
  try { d = await api(`/api/dataset?path=${encodeURIComponent(path)}`); }
  catch (e) { $("dserror").textContent = e.message; return; }
  $("meta").textContent = `${path}: ${d.kind}, ${d.episodes.length} episodes, ${d.fps ?? "?"} fps` + (d.env ? `, ${d.env}` : "") +
    (d.incomplete && d.incomplete.length ? `; interrupted: ${d.incomplete.map(i => i.name).join(", ")}` : "");
  $("out").value = d.kind === "lerobot" ? path + "_filtered" : path.replace(/(\.h5|\.hdf5)$/, "_filtered$1");
  const t = $("episodes");
  t.append(el("tr", {}, ...["", "episode", "length", "success", "task", "source"].map(h => el("th", {}, h))));
  for (const e of d.episodes) {
    const box = el("input", { type: "checkbox", title: "exclude", onchange: ev => { ev.target.checked ? excluded.add(e.name) : excluded.delete(e.name); tr.classList.toggle("excluded", ev.target.checked); } });
    const tr = el("tr", { id: `ep-${e.name}` }, el("td", {}, box), el("td", {}, el("a", { href: "#", onclick: ev => { ev.preventDefault(); openEpisode(e.name, tr); } }, e.name)),
      el("td", {}, e.length), el("td", {}, e.success === null ? "-" : e.success ? "yes" : "no"), el("td", {}, e.task), el("td", {}, e.source));
    t.append(tr);
    if (e.error) t.append(el("tr", {}, el("td", { colspan: 6, class: "error" }, e.error)));
  }
  if (d.episodes.length) openEpisode(d.episodes[0].name, document.getElementById(`ep-${d.episodes[0].name}`));
}

$("filter").onclick = async () => {
  $("filtered").textContent = "";
  try {
    const r = await api("/api/dataset/filter", { method: "POST", body: { path: current, exclude: [...excluded], out: $("out").value } });
    $("filtered").innerHTML = "";
    $("filtered").append(r.job ? el("a", { href: "/jobs" }, `job ${r.job} writing ${r.out}`) : el("span", {}, "wrote ", el("a", { href: `?path=${encodeURIComponent(r.out)}` }, r.out)));
    loadList();
  } catch (e) { $("filtered").append(el("span", { class: "error" }, e.message)); }
};

async function openEpisode(name, tr) {
  document.querySelectorAll("#episodes tr.sel").forEach(r => r.classList.remove("sel")); if (tr) tr.classList.add("sel");
  $("eperror").textContent = ""; $("videos").innerHTML = ""; videos = []; playing = false; $("play").textContent = "Play";
  try { ep = await api(`/api/dataset/episode?path=${encodeURIComponent(current)}&episode=${encodeURIComponent(name)}`); }
  catch (e) { $("eperror").textContent = e.message; return; }
  window.studio.episode = ep;
  $("eptitle").textContent = `${name}: ${ep.length} frames at ${ep.fps} fps (${ep.units})`;
  for (const cam of ep.cameras) {
    const v = el("video", { muted: "", playsinline: "", preload: "auto", id: `video-${cam}` });
    v.muted = true; v.src = ep.video_urls[cam]; v.dataset.from = ep.videos[cam].from;
    v.addEventListener("loadedmetadata", () => { v.currentTime = +v.dataset.from; });
    videos.push(v); $("videos").append(el("div", { class: "cam" }, v, el("span", {}, cam)));
  }
  $("scrub").max = ep.length - 1; $("scrub").value = 0;
  drawPlots(0);
}

function frameNow() {
  if (!videos.length) return +$("scrub").value;
  const v = videos[0]; return Math.max(0, Math.min(ep.length - 1, Math.round((v.currentTime - +v.dataset.from) * ep.fps)));
}

function drawPlots(cursor) {
  const box = $("plots"); box.querySelectorAll("canvas").forEach(c => c.remove());
  const marks = [];
  for (const [name, sig] of Object.entries(ep.subtasks)) { const i = sig.findIndex(v => v > 0.5); if (i >= 0) marks.push({ at: i, label: name }); }
  ep.names.forEach((n, j) => {
    const c = el("canvas", { class: "plot", id: `plot-${j}`, style: "height:110px" }); box.append(c);
    plot(c, [{ values: ep.state.map(r => r[j]) }, { values: ep.action.map(r => r[j]), dash: true }], { cursor, marks, title: n });
  });
  if (Object.keys(ep.subtasks).length) {
    const c = el("canvas", { class: "plot", id: "plot-subtasks", style: "height:80px" }); box.append(c);
    plot(c, Object.values(ep.subtasks).map(v => ({ values: v })), { cursor, marks, title: "subtask signals: " + Object.keys(ep.subtasks).join(", ") });
  }
  $("frame").textContent = `frame ${cursor}`;
}

$("play").onclick = () => {
  playing = !playing; $("play").textContent = playing ? "Pause" : "Play";
  for (const v of videos) { if (playing) { if (v.currentTime >= ep.videos[v.id.slice(6)].to - 0.05) v.currentTime = +v.dataset.from; v.play().catch(() => {}); } else v.pause(); }
  if (playing && !videos.length) tickNoVideo();
};
function tickNoVideo() { if (!playing) return; const s = $("scrub"); s.value = (+s.value + 1) % ep.length; drawPlots(+s.value); setTimeout(tickNoVideo, 1000 / ep.fps); }
$("scrub").oninput = () => { const f = +$("scrub").value; for (const v of videos) v.currentTime = +v.dataset.from + f / ep.fps; drawPlots(f); };

let lastFrame = -1;
function sync() {
  if (ep && videos.length) {
    const lead = videos[0], to = ep.videos[lead.id.slice(6)].to;
    for (const v of videos.slice(1)) if (Math.abs(v.currentTime - lead.currentTime) > 0.1) v.currentTime = lead.currentTime;
    if (playing && lead.currentTime >= to) { for (const v of videos) v.pause(); playing = false; $("play").textContent = "Play"; }
    const f = frameNow(); if (f !== lastFrame) { lastFrame = f; $("scrub").value = f; drawPlots(f); }
  }
  requestAnimationFrame(sync);
}
requestAnimationFrame(sync);

window.addEventListener("popstate", () => { const p = new URLSearchParams(location.search).get("path"); if (p) openDataset(p); });
loadList().then(() => { const p = new URLSearchParams(location.search).get("path"); if (p) openDataset(p); })
  .catch(e => $("dserror").textContent = e.message);
