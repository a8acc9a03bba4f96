// 我的诉求: a resident's requests with their timelines, and the rating that closes (or reopens)
// each. Opened from a grid worker's service card (?worker=CODE), it shows that worker and a
// report form whose report lands in the worker's grid: at the phone's position when it lies
// there, otherwise at the grid's own point. Every action goes through the public API with the
// resident's token, so the server decides what they see and may do.
import { STATE_ZH } from "/static/shared/states.js";
import { api, logout, onLogin, problem, session, timeline } from "/static/shared/session.js";
import { watchPicker } from "/static/shared/picker.js";

const RATINGS = [["satisfied", "满意"], ["basic", "基本满意"], ["unsatisfied", "不满意"]];
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let card = null;
let position = null;

function show(view) {
  $("login-view").hidden = view !== "login";
  $("me-view").hidden = view !== "me";
  $("logout").hidden = view !== "me";
}

async function loadCard() {
  const code = params.get("worker");
  if (!code) return;
  const r = await fetch(`/api/v1/service-cards/${encodeURIComponent(code)}`);
  if (!r.ok) return;
  card = await r.json();
  $("worker").hidden = false;
  $("worker-name").textContent = card.name;
  $("worker-phone").textContent = `☎ ${card.phone}`;
  $("worker-phone").href = `tel:${card.phone}`;
  $("worker-place").textContent = `${card.street_name} ${card.community_name} · ${card.grid_name}`;
}


async function loadCategories() {
  const r = await api("/api/v1/categories");
  if (!r.ok) return;
  const select = $("category");
  select.length = 1;
  for (const m of await r.json()) {
    const group = document.createElement("optgroup");
    group.label = m.name;
    for (const it of m.items) group.append(new Option(it.name, it.code));
    select.append(group);
  }
}

function locate() {
  $("where").textContent = `位置：${card.grid_name}（未获取到定位时，按网格位置上报）`;
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition(async (p) => {
    const here = { lon: p.coords.longitude, lat: p.coords.latitude };
    const r = await api(`/api/v1/lookup?lon=${here.lon}&lat=${here.lat}`).catch(() => null);
    const inside = r && r.ok && (await r.json()).grid.code === card.grid_code;
    position = inside ? here : null; // the card's grid handles it: a point elsewhere would route away
    $("where").textContent = inside ? `位置：您在${card.grid_name}内的当前位置` : `位置：您不在${card.grid_name}内，按网格位置上报`;
  }, () => {}, { enableHighAccuracy: true, timeout: 8000 });
}

async function report(ev) {
  ev.preventDefault();
  $("report-error").textContent = "";
  const button = $("submit");
  button.disabled = true;
  // one key per filled-in form: a retry after a lost answer is the same report, stored once
  const key = sessionStorage.getItem("onegrid.me.key") || crypto.randomUUID();
  sessionStorage.setItem("onegrid.me.key", key);
  const form = new FormData();
  form.set("category", $("category").value);
  form.set("description", $("description").value);
  const at = position || { lon: card.lon, lat: card.lat };
  form.set("lon", String(at.lon));
  form.set("lat", String(at.lat));
  if ($("photos").files[0]) form.append("photos", $("photos").files[0]);
  try {
    const r = await api("/api/v1/incidents", { method: "POST", body: form, headers: { "Idempotency-Key": key } });
    if (!r.ok) { $("report-error").textContent = await problem(r); return; }
    sessionStorage.removeItem("onegrid.me.key");
    ev.target.reset();
    await render();
  } catch (e) {
    $("report-error").textContent = "网络不通，请稍后再点提交（不会重复上报）";
  } finally {
    button.disabled = false;
  }
}

async function detail(li, id) {
  const r = await api(`/api/v1/incidents/${id}`);
  if (!r.ok) return;
  const f = await r.json();
  const box = li.querySelector(".detail");
  box.replaceChildren();
  box.append(timeline(f.properties.timeline));
  if (f.properties.allowed_actions.includes("rate")) {
    const ask = document.createElement("p");
    ask.textContent = "已办结，请您评价：";
    const buttons = document.createElement("div");
    buttons.className = "rate";
    for (const [value, label] of RATINGS) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.dataset.rating = value;
      if (value === "unsatisfied") b.className = "bad";
      b.addEventListener("click", () => rate(li, f, value));
      buttons.append(b);
    }
    box.append(ask, buttons);
  } else if (f.properties.rating) {
    const done = document.createElement("p");
    done.className = "done";
    done.textContent = `您的评价：${Object.fromEntries(RATINGS)[f.properties.rating] || f.properties.rating}`;
    box.append(done);
  }
  const error = document.createElement("p");
  error.className = "error";
  error.setAttribute("role", "alert");
  box.append(error);
}

async function rate(li, f, rating) {
  const r = await api(`/api/v1/incidents/${f.id}/actions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ action: "rate", rating, version: f.properties.version }),
  });
  if (!r.ok) { li.querySelector(".detail .error").textContent = await problem(r); return; }
  await render(f.id);
}

async function render(open = null) {
  const r = await api("/api/v1/incidents?mine=true&limit=50");
  if (!r.ok) return;
  const list = $("requests");
  list.replaceChildren();
  const features = (await r.json()).features;
  $("empty").hidden = features.length > 0;
  for (const f of features) {
    const li = document.createElement("li");
    li.dataset.id = f.id;
    const head = document.createElement("button");
    head.type = "button";
    head.setAttribute("aria-expanded", "false");
    const title = document.createElement("span");
    title.textContent = `${f.properties.code} ${f.properties.category_name}`;
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = STATE_ZH[f.properties.state] || f.properties.state;
    head.append(title, state);
    const box = document.createElement("div");
    box.className = "detail";
    head.addEventListener("click", async () => {
      const opening = head.getAttribute("aria-expanded") === "false";
      head.setAttribute("aria-expanded", String(opening));
      if (opening) await detail(li, f.id); else box.replaceChildren();
    });
    li.append(head, box);
    list.append(li);
    if (f.id === open) head.click();
  }
}

async function start() {
  await loadCard();
  if (!session.token) { show("login"); return; }
  const me = await api("/api/v1/auth/me");
  if (me.status === 401) { logout(); show("login"); return; }
  if (me.ok) $("who").textContent = (await me.json()).display_name;
  show("me");
  if (card) { $("report-form").hidden = false; await loadCategories(); locate(); }
  await render();
}

onLogin(start);
$("report-form").addEventListener("submit", report);
$("logout").addEventListener("click", () => { logout(); show("login"); });
start();
watchPicker($("photos"), $("picked"));
