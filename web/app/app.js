// 网格员: the grid worker's phone app. Usable offline: the service worker keeps the app and the
// last answers; every write (a report, a task action, fixes, a check-in, a call accepted) goes
// through the outbox with its own Idempotency-Key and is sent once, in order. Tasks come live
// from the events feed; a point-call rings full screen, and once accepted the walking route is
// drawn. What each worker sees and may do is the server's decision, from their own token.
import { ACTION_ZH, STATE_ZH } from "/static/shared/states.js";
import { api, due, logout, onLogin, photo, session, timeline, when } from "/static/shared/session.js";
import { watchPicker } from "/static/shared/picker.js";
import { stored } from "/static/shared/shrink.js";
import { fillCategories } from "/static/shared/categories.js";
import * as outbox from "/static/shared/outbox.js";
import { checkIn, metres, patrol, start as startPatrol, stop as stopPatrol, watch } from "/static/app/patrol.js";

const $ = (id) => document.getElementById(id);
const app = (window.app = { outbox, ready: false, field: null, tasks: [], calls: [], warnings: [], task: null, versions: {}, maps: {}, rung: new Set(), events: 0 });
// the worker's actions on a task, and the state each leads to (shown at once, offline too; the server has the last word)
const TASK_ACTIONS = [["start", "开始处置", "", "in_progress"], ["resolve", "办结", "", "resolved"], ["suspend", "挂起", "quiet", "suspended"],
  ["resume", "恢复处置", "", "in_progress"], ["escalate", "上报上级", "quiet", null], ["return", "退回", "warn", "accepted"]];
const REASON = new Set(["suspend", "return"]);

function cached(key, value) {
  if (value !== undefined) localStorage.setItem(`onegrid.app.${key}`, JSON.stringify(value));
  return JSON.parse(localStorage.getItem(`onegrid.app.${key}`) || "null");
}

async function getJSON(path) {  // the network, else what we had (the service worker answers offline too)
  try {
    const r = await api(path);
    if (r.status === 401) { signOut(); return null; }
    if (r.ok) return cached(path, await r.json());
  } catch (e) { /* offline */ }
  return cached(path);
}

function go(view) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== view;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.go === view) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  if (view === "report") reportView();
  window.scrollTo(0, 0);
}

function show(signedIn) {
  $("login-view").hidden = signedIn;
  $("app-view").hidden = !signedIn;
  $("tabs").hidden = !signedIn;
  $("logout").hidden = !signedIn;
}

function signOut() {  // a shared phone keeps nothing of the last worker's answers
  logout();
  show(false);
  for (const k of Object.keys(localStorage)) if (k.startsWith("onegrid.app.")) localStorage.removeItem(k);
  if ("caches" in window) caches.delete("onegrid-app-runtime");
}

async function network() {
  const waiting = (await outbox.pending()).length;
  const net = $("net");
  net.textContent = (navigator.onLine ? "在线" : "离线") + (waiting ? ` · 待发送 ${waiting}` : "");
  net.classList.toggle("offline", !navigator.onLine);
}

// ------------------------------------------------------------------ 待办
function card(title, state, sub, onClick, overdue = false) {
  const li = document.createElement("li");
  li.innerHTML = `<button type="button"><span class="line"><b></b><span class="state"></span></span><span class="line sub"><span class="what"></span></span></button>`;
  li.querySelector("b").textContent = title;
  li.querySelector(".state").textContent = state;
  li.querySelector(".what").textContent = sub;
  li.querySelector(".what").classList.toggle("overdue", overdue);
  li.querySelector("button").addEventListener("click", onClick);
  return li;
}

function myTask(call) { return (call.tasks || []).find((t) => t.worker_id === app.field?.worker.id); }

function fetchTasks() {
  return Promise.all([getJSON("/api/v1/incidents?assigned=true&limit=200"), getJSON("/api/v1/calls?limit=20"),
    getJSON("/api/v1/warnings?limit=20")]);
}

async function loadTasks() { renderTasks(await fetchTasks()); }

function renderTasks([inc, calls, warnings]) {
  app.tasks = inc?.features || [];
  app.calls = (calls?.calls || []).filter((c) => { const t = myTask(c); return t && t.state !== "arrived"; });
  app.warnings = warnings?.features || [];
  const ul = $("task-list");
  ul.replaceChildren();
  for (const c of app.calls) {
    const t = myTask(c);
    ul.append(card("点调", t.state === "called" ? "待接受" : "已接受", c.message, () => (t.state === "called" ? ring(c) : routeTo(c))));
  }
  for (const f of app.tasks) {
    const p = f.properties;
    ul.append(card(`${p.code} ${p.category_name}`, STATE_ZH[p.state] || p.state, `${p.grid_name || ""} ${due(p)}`, () => openTask(f.id), Boolean(p.overdue)));
  }
  for (const w of app.warnings) ul.append(card("预警", w.properties.level === "red" ? "红色" : "橙色", w.properties.message, () => {}));
  const n = app.calls.length + app.tasks.length + app.warnings.length;
  $("tasks-empty").hidden = n > 0;
  $("tab-count").textContent = n;
  $("f-tasks").textContent = n;
  for (const c of app.calls) if (myTask(c).state === "called" && Date.now() - new Date(c.created_at) < 3600_000) ring(c);
  // each task's details kept on the phone while there is signal, so they open without it
  if (navigator.onLine) for (const f of app.tasks) getJSON(`/api/v1/incidents/${f.id}`);
}

async function renderOutbox() {
  const ul = $("outbox-list");
  ul.replaceChildren();
  const items = await outbox.items();
  $("outbox-empty").hidden = items.length > 0;  // an empty list says so
  for (const item of items) {
    const li = document.createElement("li");
    li.className = item.status;
    li.textContent = `${item.label}：${item.status === "failed" ? `未能发送（${item.error}）` : "等待发送"}`;
    if (item.status === "failed") {
      const b = document.createElement("button");
      b.type = "button"; b.className = "quiet"; b.textContent = "知道了";
      b.addEventListener("click", () => outbox.forget(item.seq));
      li.append(" ", b);
    }
    ul.append(li);
  }
  await network();
}

// ------------------------------------------------------------------ 处置
function renderTask(f) {
  const p = f.properties;
  app.task = f;
  $("task-title").textContent = `${p.code} ${p.category_name}`;
  $("t-state").textContent = STATE_ZH[p.state] || p.state;
  $("t-place").textContent = `${p.community_name || ""} ${p.grid_name || ""} · 上报于 ${when(p.reported_at)}`;
  $("t-due").textContent = p.due_at ? `办理时限：${when(p.due_at)}（${due(p)}）` : "";
  $("t-description").textContent = p.description || "（无文字描述）";
  const photos = $("t-photos");
  photos.replaceChildren();
  for (const ph of p.photos || []) { const img = document.createElement("img"); img.alt = `${p.code} 现场照片`; photos.append(img); photo(img, ph.thumbnail); }
  $("t-timeline").replaceChildren(timeline(p.timeline || []));
  const box = $("t-actions");
  box.replaceChildren();
  for (const [action, label, cls] of TASK_ACTIONS) {
    if (!(p.allowed_actions || []).includes(action)) continue;
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.dataset.action = action;
    if (cls) b.className = cls;
    b.addEventListener("click", () => act(action));
    box.append(b);
  }
  if (!box.children.length) box.textContent = "当前状态下您无可执行的操作。";
}

async function openTask(id) {
  $("t-error").textContent = "";
  const f = await getJSON(`/api/v1/incidents/${id}`);
  if (!f) { $("t-error").textContent = "离线且无此事件的缓存。"; return; }
  const local = app.versions[id];
  if (local && local.version > f.properties.version) Object.assign(f.properties, local);  // my queued actions, not yet sent
  renderTask(f);
  go("task");
  // what I did here that the server refused (someone was quicker), said until I dismiss it
  const refused = (await outbox.items()).find((i) => i.status === "failed" && i.kind === "action" && i.ref === id);
  if (refused) $("t-error").textContent = refusal(refused.answer || {}, refused.code, refused.label);
}

function refusal(p, status, label) {
  if (status === 409) return `该事件已被他人处理，现为「${STATE_ZH[p.current_state] || p.current_state}」，您的「${label}」未执行，请确认后再操作。`;
  return `未能${label}：${p.detail || status}`;
}

async function act(action) {
  const f = app.task, p = f.properties;
  const note = $("t-note").value.trim();
  if (REASON.has(action) && !note) { $("t-error").textContent = `请先在处置说明中写明${ACTION_ZH[action]}原因`; $("t-note").focus(); return; }
  const files = $("t-photos-input").files;
  const photos = files.length ? await stored(files) : [];
  const headers = { "If-Match": `"v${p.version}"` };
  const label = `${p.code} ${ACTION_ZH[action] || action}`;
  const url = `/api/v1/incidents/${f.id}/actions`;
  await outbox.enqueue(photos.length ? { kind: "action", url, headers, form: { fields: { action, note }, photos }, label, ref: f.id }
                                     : { kind: "action", url, headers, json: { action, note }, label, ref: f.id });
  // what the action leads to, at once: the next action is queued on the version after this one
  const next = TASK_ACTIONS.find((a) => a[0] === action)[3];
  const nextAllowed = { in_progress: ["resolve", "suspend", "return"], suspended: ["resume", "return"] }[next] || [];
  app.versions[f.id] = { version: p.version + 1, state: next || p.state, allowed_actions: nextAllowed };
  Object.assign(p, app.versions[f.id]);
  $("t-note").value = "";
  $("t-photos-input").value = "";
  $("t-photos-input").dispatchEvent(new Event("change"));
  renderTask(f);
  $("t-error").textContent = navigator.onLine ? "" : "已保存，联网后自动发送。";
}

// ------------------------------------------------------------------ 点调
async function ring(call) {
  if (app.rung.has(call.id)) return;
  app.rung.add(call.id);
  app.ringing = call;
  $("ring-message").textContent = call.message;
  $("ring-place").textContent = "地点：正在查询…";
  $("ring").hidden = false;
  $("ring-accept").focus();
  if (navigator.vibrate) navigator.vibrate([600, 300, 600, 300, 600]);
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    const reg = await navigator.serviceWorker?.getRegistration("/app/");
    reg?.showNotification("点调任务", { body: call.message, tag: `call-${call.id}`, requireInteraction: true });
  }
  const place = await getJSON(`/api/v1/lookup?lon=${call.lon}&lat=${call.lat}`);
  $("ring-place").textContent = place ? `地点：${place.street.name} ${place.community.name} ${place.grid.name}` : `地点：${call.lat.toFixed(5)}, ${call.lon.toFixed(5)}`;
}

async function acceptCall() {
  const call = app.ringing;
  $("ring").hidden = true;
  if (navigator.vibrate) navigator.vibrate(0);
  await outbox.enqueue({ kind: "call", url: `/api/v1/calls/${call.id}/acknowledge`, label: `接受点调：${call.message}`, ref: call.id });
  if (!patrol.on) { await startPatrol(); patrolView(); }  // arrival is read from my uploaded fixes
  await routeTo(call);
}

async function routeTo(call) {
  go("home");
  const here = patrol.here;
  const q = here ? `?lon=${here.lon}&lat=${here.lat}` : "";
  const banner = $("route-banner");
  banner.hidden = false;
  banner.textContent = `前往点调地点：${call.message}`;
  const route = await getJSON(`/api/v1/calls/${call.id}/route${q}`);
  if (route && route.properties) {
    const p = route.properties;
    const eta = new Date(p.eta).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false });
    banner.textContent = `前往点调地点：${call.message} · 步行约 ${Math.max(1, Math.round(p.walk_s / 60))} 分钟（${Math.round(p.distance_m)} 米），预计 ${eta} 到达`;
    app.route = route;
    app.maps.home?.route(route);
  }
  app.activeCall = call.id;
}

// ------------------------------------------------------------------ 巡查
function patrolView() {
  $("patrol-toggle").textContent = patrol.on ? "结束巡查" : "开始巡查";
  $("patrol-status").textContent = patrol.on ? "巡查中，轨迹自动上传（无信号时先存在手机上）" : "未在巡查";
  const ul = $("key-points");
  ul.replaceChildren();
  const here = patrol.here;
  const points = [...(app.field?.key_points || [])];
  if (here) points.sort((a, b) => metres(here, a) - metres(here, b));  // the nearest first: the one I am at
  for (const k of points) {
    const li = document.createElement("li");
    li.className = "kp";
    const far = here ? Math.round(metres(here, k)) : null;
    const text = document.createElement("span");
    text.textContent = `${k.name}${far !== null ? `（约 ${far} 米）` : ""}${k.checked_in_at ? ` · 已打卡 ${when(k.checked_in_at)}` : ""}`;
    const b = document.createElement("button");
    b.type = "button"; b.textContent = "打卡"; b.dataset.code = k.code;
    b.addEventListener("click", async () => { await checkIn(k); $("patrol-status").textContent = `已提交打卡：${k.name}`; });
    li.append(text, b);
    ul.append(li);
  }
}

async function figures() {
  if (!app.field) return;
  const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
  const t = await getJSON(`/api/v1/workers/${app.field.worker.id}/trajectory?from=${encodeURIComponent(midnight.toISOString())}`);
  if (t) {
    $("f-distance").textContent = `${Math.round(t.properties.distance_m)} 米`;
    $("f-inside").textContent = `${Math.round(t.properties.inside_own_grid_s / 60)} 分钟`;
    app.figures = t.properties;
  }
  const field = await getJSON("/api/v1/me/field");
  if (field) { app.field = field; $("f-checked").textContent = field.key_points_checked_today; }
}

// ------------------------------------------------------------------ 随手拍
async function categories() {
  fillCategories($("category"), await getJSON("/api/v1/categories"));
}

async function place(lon, lat) {
  app.pin = { lon, lat };
  if (!navigator.onLine) { $("r-where").textContent = "离线：位置已记录，联网后由系统确定所在网格"; return; }
  const r = await api(`/api/v1/lookup?lon=${lon}&lat=${lat}`).catch(() => null);
  if (r && r.ok) { const l = await r.json(); $("r-where").textContent = `您在：${l.community.name} ${l.grid.name}`; }
  else $("r-where").textContent = r && r.status === 404 ? "该位置不在本辖区内，请移动标记" : "暂时无法确定所在网格";
}

async function reportView() {
  const here = patrol.here;
  if (!here) { $("r-where").textContent = "正在定位…"; return; }
  if (!app.pin) await place(here.lon, here.lat);
  if (!app.maps.pin && navigator.onLine) {
    const { pinMap } = await import("/static/shared/map.js");
    app.maps.pin = await pinMap("pin-map", app.pin.lon, app.pin.lat, place);
  }
}

async function submitReport(ev) {
  ev.preventDefault();
  const files = $("r-photos").files;
  if (files.length > 9) { $("r-error").textContent = "最多上传 9 张照片"; return; }
  const at = app.pin || patrol.here;
  const fields = { category: $("category").value, description: $("r-description").value, ...(at ? { lon: at.lon, lat: at.lat } : {}) };
  const label = `上报 ${$("category").selectedOptions[0]?.textContent || ""}`;
  await outbox.enqueue({ kind: "report", url: "/api/v1/incidents", form: { fields, photos: await stored(files, Boolean(at)) }, label });
  ev.target.reset();
  $("r-photos").dispatchEvent(new Event("change"));
  $("r-error").textContent = "";
  $("r-done").textContent = navigator.onLine ? "已上报" : "已保存，联网后自动上报";
}

// ------------------------------------------------------------------ live, start
function live() {
  app.feed?.close();
  const feed = (app.feed = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(session.token)}`));
  const again = () => { clearTimeout(app.reload); app.reload = setTimeout(loadTasks, 300); };
  feed.addEventListener("call.task", (ev) => {
    const d = JSON.parse(ev.data);
    app.events += 1;
    if (d.worker_id !== app.field?.worker.id) return;
    if (!d.acknowledged_at && !d.arrived_at) ring({ id: d.call_id, message: d.message, lon: d.lon, lat: d.lat, created_at: d.at });
    if (d.arrived_at && d.call_id === app.activeCall) { $("route-banner").textContent = "已到达点调地点"; app.arrived = d.call_id; }
    again();
  });
  for (const kind of ["incident.new", "incident.state", "warning"]) feed.addEventListener(kind, () => { app.events += 1; again(); });
}

outbox.onChange(async ({ item, sent, failed, answer, problem: p, status }) => {
  await renderOutbox();
  if (!item) return;
  if (item.kind === "action" && (sent || failed)) {
    delete app.versions[item.ref];
    if (failed && app.task?.id === item.ref) {
      await openTask(item.ref);
    } else if (sent && app.task?.id === item.ref && answer) renderTask(answer);
  }
  if (item.kind === "check-in" && failed) $("patrol-status").textContent = `打卡未成功：${p.detail}`;
  if ((item.kind === "track" || item.kind === "check-in") && sent) { await figures(); patrolView(); }
  if (item.kind === "report" && sent) $("r-done").textContent = `已上报：${answer.properties.code}`;
  if (sent || failed) loadTasks();
});

async function start() {
  if (!session.token) { show(false); app.interactive = performance.now(); return; }
  // everything the first screen needs, asked at once: one round trip on a slow network, not four
  const [field, lists] = await Promise.all([getJSON("/api/v1/me/field"), fetchTasks(), categories()]);
  if (!session.token) return;
  if (!field) { $("login-error").textContent = "该账号不是网格员账号"; signOut(); return; }
  app.field = field;
  show(true);
  $("who").textContent = `${field.worker.name} · ${field.grids.features.map((g) => `${g.properties.community_name} ${g.properties.name}`).join("、")}`;
  go("home");
  watch();
  patrol.onFix((here) => { app.maps.home?.here(here.lon, here.lat); if (!$("patrol").hidden) patrolView(); });
  renderTasks(lists);
  await renderOutbox();
  patrolView();
  live();
  outbox.flush();
  app.ready = true;  // usable: tasks, patrol and report work; the map follows
  app.interactive = performance.now();
  figures();
  if (navigator.onLine) {
    const { homeMap } = await import("/static/shared/map.js");
    app.maps.home = await homeMap("map", field);
    if (patrol.here) app.maps.home.here(patrol.here.lon, patrol.here.lat);
    if (app.route) app.maps.home.route(app.route);
    app.mapReady = true;
  }
}

onLogin(start);
$("logout").addEventListener("click", () => { app.feed?.close(); signOut(); });
for (const b of document.querySelectorAll("[data-go]")) b.addEventListener("click", () => go(b.dataset.go));
$("ring-accept").addEventListener("click", acceptCall);
$("ring-later").addEventListener("click", () => { $("ring").hidden = true; if (navigator.vibrate) navigator.vibrate(0); });
$("patrol-toggle").addEventListener("click", async () => { if (patrol.on) await stopPatrol(); else await startPatrol(); patrolView(); });
$("report-form").addEventListener("submit", submitReport);
$("notify").addEventListener("click", async () => { if ("Notification" in window) await Notification.requestPermission(); });
window.addEventListener("online", () => { network(); outbox.flush(); loadTasks(); });
window.addEventListener("offline", network);
watchPicker($("t-photos-input"), $("t-picked"));
watchPicker($("r-photos"), $("r-picked"));
start().finally(() => {  // after the first load's own downloads, so the two do not compete on a slow network
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
});
