// 部门处置台: what has been dispatched to me (a department's handler, or a community or street
// officer at their level) and what I do with it: take it on, suspend and resume, resolve, hand
// it up (上报上级) or give it back to the command centre (退回) with a reason. Every action goes
// through the public API with my own token and the version I saw, so the server decides what I
// see and may do; a version someone else changed meanwhile comes back as 409 and is said plainly.
import { ACTION_ZH, STATE_ZH } from "/static/shared/states.js";
import { api, due, logout, onLogin, photo, problem, session, timeline, when } from "/static/shared/session.js";
import { watchPicker } from "/static/shared/picker.js";

const DESK_ACTIONS = [  // [action, button label, class, a reason required]
  ["start", "接收处置", "", false],
  ["resolve", "办结", "", false],
  ["suspend", "挂起（待补充）", "quiet", true],
  ["resume", "恢复处置", "", false],
  ["escalate", "上报上级", "quiet", false],
  ["return", "退回指挥中心", "warn", true],
];
const REFRESH_MS = 20_000;
const $ = (id) => document.getElementById(id);
const desk = (window.desk = { items: [], selected: null, incident: null, photoUrls: [], states: "dispatched,in_progress,suspended" });

function show(view) {
  $("login-view").hidden = view !== "login";
  $("desk-view").hidden = view !== "desk";
  $("logout").hidden = view !== "desk";
}

async function loadInbox() {
  const r = await api(`/api/v1/incidents?assigned=true&state=${desk.states}&limit=200`);
  if (r.status === 401) { logout(); show("login"); return; }
  if (!r.ok) return;
  desk.items = (await r.json()).features;
  const ul = $("inbox");
  ul.replaceChildren();
  $("inbox-count").textContent = desk.items.length;
  $("inbox-empty").hidden = desk.items.length > 0;
  for (const f of desk.items) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.id = f.id;
    li.classList.toggle("selected", f.id === desk.selected);
    li.innerHTML = `<button type="button" class="item"><span class="line"><b></b><span class="state"></span></span><span class="line sub"><span class="what"></span><span class="due"></span></span></button>`;
    li.querySelector("b").textContent = p.code;
    li.querySelector(".state").textContent = STATE_ZH[p.state] || p.state;
    li.querySelector(".what").textContent = `${p.category_name} · ${p.community_name || ""} ${p.grid_name || ""}`;
    const d = li.querySelector(".due");
    d.textContent = due(p);
    d.classList.toggle("overdue", Boolean(p.overdue));
    li.querySelector("button").addEventListener("click", () => open(f.id));
    ul.append(li);
  }
  if (desk.selected && !desk.items.some((f) => f.id === desk.selected)) closeDetail();
}

function closeDetail() {
  desk.selected = null;
  desk.incident = null;
  $("detail").hidden = true;
  $("detail-empty").hidden = false;
}

async function open(id) {
  desk.selected = id;
  for (const li of $("inbox").children) li.classList.toggle("selected", Number(li.dataset.id) === id);
  const r = await api(`/api/v1/incidents/${id}`);
  if (!r.ok) { $("act-error").textContent = await problem(r); return; }
  const f = (desk.incident = await r.json());
  const p = f.properties;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("d-code").textContent = p.code;
  $("d-category").textContent = p.category_name;
  $("d-state").textContent = STATE_ZH[p.state] || p.state;
  $("d-place").textContent = `${p.street_name || ""} ${p.community_name || ""} ${p.grid_name || ""}（${p.grid_code || "无网格"}）· 上报于 ${when(p.reported_at)}`;
  $("d-due").textContent = p.due_at ? `办理时限：${when(p.due_at)}（${due(p)}）` : "";
  $("d-due").className = p.overdue ? "overdue" : "";
  $("d-description").textContent = p.description || "（无文字描述）";
  const photos = $("d-photos");
  photos.replaceChildren();
  desk.photoUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));  // a desk stays open all day: free the last ones
  for (const ph of p.photos) {
    const img = document.createElement("img");
    img.alt = `${p.code} 现场照片`;
    photos.append(img);
    photo(img, ph.thumbnail, desk.photoUrls);
  }
  $("d-timeline").replaceChildren(timeline(p.timeline));
  const box = $("actions");
  box.replaceChildren();
  for (const [action, label, cls, needsReason] of DESK_ACTIONS) {
    if (!p.allowed_actions.includes(action)) continue;
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.action = action;
    if (cls) b.className = cls;
    b.addEventListener("click", () => act(action, needsReason));
    box.append(b);
  }
  if (!box.children.length) box.textContent = "您对该事件暂无可执行的操作。";
}

async function act(action, needsReason) {
  const note = $("note").value.trim();
  $("act-error").textContent = "";
  if (needsReason && !note) { $("act-error").textContent = `请先在处置说明中写明${ACTION_ZH[action]}原因`; $("note").focus(); return; }
  const f = desk.incident;
  const files = [...$("act-photos").files];
  let body = JSON.stringify({ action, note });
  const headers = { "If-Match": `"v${f.properties.version}"` };
  if (files.length) {  // photos of the work done go with the action, as a report's do
    body = new FormData();
    body.append("action", action);
    body.append("note", note);
    for (const p of files) body.append("photos", p, p.name);
  } else headers["Content-Type"] = "application/json";
  const r = await api(`/api/v1/incidents/${f.id}/actions`, { method: "POST", headers, body });
  if (r.status === 409) {
    const p = await r.json();
    await loadInbox();  // what I see is what is, before I am told so
    if (desk.items.some((x) => x.id === f.id)) await open(f.id); else closeDetail();
    const now = STATE_ZH[p.current_state] || p.current_state;
    $("act-error").textContent = `该事件已被他人处理，现为「${now}」，页面已刷新，请确认后再操作。`;
    return;
  }
  if (!r.ok) { $("act-error").textContent = await problem(r); return; }
  $("note").value = "";
  $("act-photos").value = "";
  $("act-photos").dispatchEvent(new Event("change"));
  await loadInbox();
  if (desk.items.some((x) => x.id === f.id)) await open(f.id); else closeDetail();
}

function move(step) {
  if (!desk.items.length) return;
  const at = desk.items.findIndex((f) => f.id === desk.selected);
  const next = desk.items[Math.max(0, Math.min(desk.items.length - 1, at + step))];
  open(next.id);
  const button = $("inbox").querySelector(`li[data-id="${next.id}"] button`);
  if (button) button.focus();
}

async function start() {
  if (!session.token) { show("login"); return; }
  const me = await api("/api/v1/auth/me");
  if (me.status === 401) { logout(); show("login"); return; }
  if (me.ok) $("who").textContent = (await me.json()).display_name;
  show("desk");
  await loadInbox();
  desk.loaded = true;
}

onLogin(start);
$("logout").addEventListener("click", () => { logout(); closeDetail(); show("login"); });
for (const b of document.querySelectorAll(".filter")) {
  b.addEventListener("click", async () => {
    for (const o of document.querySelectorAll(".filter")) o.classList.toggle("on", o === b);
    desk.states = b.dataset.states;
    await loadInbox();
  });
}
document.addEventListener("keydown", (ev) => {
  if (ev.target.closest("textarea, input") || $("desk-view").hidden) return;
  if (ev.key === "ArrowDown") { ev.preventDefault(); move(1); }
  if (ev.key === "ArrowUp") { ev.preventDefault(); move(-1); }
});
setInterval(() => { if (!$("desk-view").hidden && !document.hidden) loadInbox(); }, REFRESH_MS);
watchPicker($("act-photos"), $("act-picked"));
start();
