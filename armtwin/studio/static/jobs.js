// Jobs page: a form per registered job kind, the list with live progress (rate, ETA, kept/failed), cancel.
"use strict";
nav("jobs");
const $ = id => document.getElementById(id);
let kinds = {};

function fmtS(s) { if (s == null || !isFinite(s)) return "-"; s = Math.round(s); return s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`; }

function showForm() {
  const k = kinds[$("kind").value], box = $("params"); box.innerHTML = "";
  for (const p of k.params) {
    let input;
    if (p.kind === "choice") { input = el("select", { id: "p-" + p.name }); for (const c of p.choices) input.append(el("option", { value: c }, c)); input.value = p.default; }
    else if (p.kind === "bool") { input = el("input", { id: "p-" + p.name, type: "checkbox" }); input.checked = !!p.default; }
    else input = el("input", { id: "p-" + p.name, value: p.default ?? "", size: p.kind === "int" ? 5 : 22, placeholder: p.required ? "required" : "" });
    box.append(el("label", {}, p.label, input));
  }
}

$("start").onclick = async () => {
  const k = kinds[$("kind").value], body = {};
  for (const p of k.params) { const i = $("p-" + p.name); body[p.name] = p.kind === "bool" ? i.checked : i.value; }
  $("error").textContent = "";
  try { await api(`/api/jobs/${k.name}`, { method: "POST", body }); refresh(); } catch (e) { $("error").textContent = e.message; }
};

function link(path) { return /^https?:/.test(path) ? el("a", { href: path, target: "_blank" }, path) : el("a", { href: `/dataset?path=${encodeURIComponent(path)}` }, path); }

async function refresh() {
  const jobs = await api("/api/jobs"), box = $("jobs");
  if (!jobs.length) return;
  box.innerHTML = "";
  const t = el("table", {}, el("tr", {}, ...["#", "job", "state", "progress", "rate", "ETA", "kept / failed", "outputs", ""].map(h => el("th", {}, h))));
  for (const j of jobs) {
    const p = j.progress || {}, frac = p.total ? Math.min(1, p.n / p.total) : 0;
    const bar = el("div", { class: "bar", style: "width:140px" }, el("div", { style: `width:${(100 * (j.state === "done" ? 1 : frac)).toFixed(0)}%` }));
    const sum = (j.result && j.result.summary) || {};
    const kept = sum.kept ?? p.kept, failed = sum.failed ?? p.failed;
    const outs = el("td", {}); for (const o of (j.result ? j.result.outputs : [])) { outs.append(link(o)); outs.append(el("br")); }
    const cancel = j.state === "running" ? el("button", { onclick: () => api(`/api/jobs/${j.id}/cancel`, { method: "POST" }).then(refresh) }, "Cancel") : "";
    const stateCell = el("td", { class: j.state === "failed" ? "error" : "" }, j.state + (j.error ? `: ${j.error}` : ""));
    t.append(el("tr", { id: `job-${j.id}` }, el("td", {}, j.id), el("td", {}, kinds[j.kind] ? kinds[j.kind].title : j.kind), stateCell,
      el("td", {}, bar, ` ${p.n ?? 0}/${p.total ?? "?"} ${p.unit || ""}`), el("td", {}, p.rate ? `${p.rate.toFixed(2)}/s` : "-"),
      el("td", {}, j.state === "running" ? fmtS(p.eta_s) : "-"), el("td", {}, `${kept ?? "-"} / ${failed ?? "-"}`), outs, el("td", {}, cancel)));
  }
  box.append(t);
}

(async () => {
  for (const k of await api("/api/jobs/kinds")) { kinds[k.name] = k; $("kind").append(el("option", { value: k.name }, k.title)); }
  const want = new URLSearchParams(location.search).get("kind"); if (want && kinds[want]) $("kind").value = want;
  $("kind").onchange = showForm; showForm(); refresh(); setInterval(refresh, 1000);
})().catch(e => $("error").textContent = e.message);
