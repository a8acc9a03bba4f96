// 随手拍 phone page. A report first goes into an IndexedDB outbox with a fresh idempotency
// key; it is sent from there and retried, with the same key, until the server has stored it
// (201, or 200 for a retry it had already stored). Only a 4xx problem (bad input) stops the
// retries, and the reporter is told why. Nothing typed in is lost to a bad network.
import { openDB } from "/vendor/idb/index.js";
import { STATE_ZH } from "/static/shared/states.js";
import { watchPicker } from "/static/shared/picker.js";
import { shrink } from "/static/shared/shrink.js";
import { fillCategories } from "/static/shared/categories.js";
import { onLogin, session } from "/static/shared/session.js";

const $ = (id) => document.getElementById(id);
const db = await openDB("onegrid-report", 1, {
  upgrade(d) { d.createObjectStore("outbox", { keyPath: "key" }); },
});
let token = localStorage.getItem("onegrid.token");
let position = null;
let flushing = false;
let retryTimer = null;
let backoff = 2000;

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  return fetch(path, { ...options, headers });
}

function show(view) {
  $("login-view").hidden = view !== "login";
  $("report-view").hidden = view !== "report";
  $("logout").hidden = view !== "report";
}

async function loadCategories() {
  let majors = JSON.parse(localStorage.getItem("onegrid.categories") || "null");
  try {
    const r = await api("/api/v1/categories");
    if (r.ok) { majors = await r.json(); localStorage.setItem("onegrid.categories", JSON.stringify(majors)); }
  } catch (e) { /* offline: the cached catalogue will do */ }
  fillCategories($("category"), majors);
}

function locate() {
  if (!navigator.geolocation) { $("location").textContent = "设备不支持定位，将使用照片中的位置"; return; }
  navigator.geolocation.watchPosition((p) => {
    position = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy };
    $("location").textContent = `位置：${position.lat.toFixed(6)}, ${position.lon.toFixed(6)}（±${Math.round(position.accuracy)} 米）`;
  }, () => { $("location").textContent = "无法定位，将使用照片中的位置"; }, { enableHighAccuracy: true });
}

function previews() {
  const box = $("previews");
  box.replaceChildren();
  for (const f of [...$("photos").files].slice(0, 9)) {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(f);
    img.alt = f.name;
    box.append(img);
  }
}

async function queueReport(ev) {
  ev.preventDefault();
  const files = await Promise.all([...$("photos").files].map((f) => shrink(f, Boolean(position))));
  if (files.length > 9) { $("report-error").textContent = "最多上传 9 张照片"; return; }
  const item = {
    key: crypto.randomUUID(), createdAt: Date.now(), status: "pending", error: null,
    fields: { category: $("category").value, description: $("description").value,
              ...(position ? { lon: position.lon, lat: position.lat, crs: "EPSG:4326" } : {}) },
    photos: await Promise.all(files.map(async (f) => ({ name: f.name, type: f.type, data: await f.arrayBuffer() }))),
    label: $("category").selectedOptions[0]?.textContent || "",
  };
  await db.put("outbox", item);  // stored on the phone before any network is touched
  ev.target.reset();
  $("previews").replaceChildren();
  $("report-error").textContent = "";
  await render();
  flush();
}

async function send(item) {
  const form = new FormData();
  for (const [k, v] of Object.entries(item.fields)) form.append(k, v);
  for (const p of item.photos) form.append("photos", new Blob([p.data], { type: p.type }), p.name);
  const r = await api("/api/v1/incidents", { method: "POST", body: form, headers: { "Idempotency-Key": item.key } });
  if (r.status === 200 || r.status === 201) return { done: true };
  if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
    if (r.status === 401) { localStorage.removeItem("onegrid.token"); token = null; show("login"); }
    const problem = await r.json().catch(() => ({}));
    return { done: false, fatal: r.status !== 401, error: problem.detail || `错误 ${r.status}` };
  }
  return { done: false };
}

async function flush() {
  if (flushing || !token) return;
  flushing = true;
  clearTimeout(retryTimer);
  let again = false;
  try {
    for (const item of await db.getAll("outbox")) {
      if (item.status === "failed") continue;
      let result;
      try { result = await send(item); } catch (e) { result = { done: false }; }  // network down
      if (result.done) await db.delete("outbox", item.key);
      else if (result.fatal) await db.put("outbox", { ...item, status: "failed", error: result.error });
      else again = true;
    }
  } finally {
    flushing = false;
  }
  await render();
  if (again) { retryTimer = setTimeout(flush, backoff); backoff = Math.min(backoff * 2, 60000); }
  else backoff = 2000;
}

async function render() {
  const net = $("net");
  net.textContent = navigator.onLine ? "在线" : "离线";
  net.className = navigator.onLine ? "badge" : "badge offline";
  const outbox = $("outbox");
  outbox.replaceChildren();
  for (const item of await db.getAll("outbox")) {
    const li = document.createElement("li");
    li.className = item.status;
    li.dataset.key = item.key;
    li.innerHTML = `<span></span><span class="state"></span>`;
    li.firstChild.textContent = item.label + (item.error ? `：${item.error}` : "");
    li.lastChild.textContent = item.status === "failed" ? "未能上报" : "等待发送";
    outbox.append(li);
  }
  if (!token || !navigator.onLine) return;
  try {
    const r = await api("/api/v1/incidents?mine=true&limit=50");
    if (!r.ok) return;
    const mine = $("mine");
    mine.replaceChildren();
    for (const f of (await r.json()).features) {
      const li = document.createElement("li");
      li.dataset.id = f.id;
      li.innerHTML = `<span></span><span class="state"></span>`;
      li.firstChild.textContent = `${f.properties.code} ${f.properties.category_name}`;
      li.lastChild.textContent = STATE_ZH[f.properties.state] || f.properties.state;
      mine.append(li);
    }
  } catch (e) { /* offline */ }
}

async function start() {
  if (!token) { show("login"); return; }
  const me = await api("/api/v1/auth/me").catch(() => null);
  if (me && me.status === 401) { localStorage.removeItem("onegrid.token"); token = null; show("login"); return; }
  if (me && me.ok) $("who").textContent = (await me.json()).display_name;
  show("report");
  await loadCategories();
  locate();
  await render();
  flush();
}

onLogin(async () => { token = session.token; await start(); });
$("report-form").addEventListener("submit", queueReport);
$("photos").addEventListener("change", previews);
$("logout").addEventListener("click", () => { localStorage.removeItem("onegrid.token"); token = null; show("login"); });
window.addEventListener("online", () => { backoff = 2000; flush(); });
window.addEventListener("offline", render);
start();
watchPicker($("photos"), $("picked"));
