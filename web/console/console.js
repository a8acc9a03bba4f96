// 指挥调度台: the command centre's desk for a dispatcher's eight hours. The 受理 queue fills live
// from the events feed; each report shows its place, photos, the lookup's units, the track
// check, the near-boundary flag with the grids on both sides and its possible duplicates side by
// side; the dispatcher accepts, rejects with a reason, dispatches (the catalogue's level and
// department suggested), splits (拆分) for several units, merges a duplicate, urges (督办) and
// extends (延期). An SLA board counts down each stage. Every action goes through the public API
// with the dispatcher's own token and the version they saw; a 409 is said plainly.
import { ACTION_ZH, LEVEL_ZH, STATE_ZH } from "/static/shared/states.js";
import { api, logout, onLogin, photo, problem, session, timeline, when } from "/static/shared/session.js";
import { pointMap } from "/static/shared/map.js";

const $ = (id) => document.getElementById(id);
const con = (window.con = { items: [], selected: null, incident: null, categories: {}, departments: [], events: 0, photoUrls: [] });
const SIDE_BY_SIDE = 3;
const TRACK_ZH = { near: "轨迹核验通过", far: "上报位置远离本人轨迹", no_track: "上报时无轨迹" };
const BUTTONS = [  // [action, label, class, a reason required]
  ["accept", "受理 (A)", "", false], ["dispatch", "交办 (D)", "", false], ["split", "拆分 (S)", "quiet", false],
  ["reject", "不予受理", "warn", true], ["urge", "督办", "quiet", true], ["extend", "延期", "quiet", true],
];

function show(view) {
  $("login-view").hidden = view !== "login";
  $("console-view").hidden = view !== "console";
  $("logout").hidden = view !== "console";
}

function left(p) {
  if (!p.due_at) return { text: "", overdue: false };
  const s = Math.round((new Date(p.due_at) - Date.now()) / 1000);
  const a = Math.abs(s), h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60), sec = a % 60;
  const clock = h ? `${h}小时${m}分` : `${m}分${String(sec).padStart(2, "0")}秒`;
  return { text: s < 0 ? `超时 ${clock}` : `剩余 ${clock}`, overdue: s < 0 };
}

function query() {
  const q = new URLSearchParams({ state: $("f-state").value, limit: "300" });
  if ($("f-area").value) q.set("area", $("f-area").value);
  if ($("f-category").value) q.set("category", $("f-category").value);
  return q;
}

async function loadQueue() {
  const r = await api(`/api/v1/incidents?${query()}`);
  if (r.status === 401) { logout(); show("login"); return; }
  if (!r.ok) return;
  con.items = (await r.json()).features.sort((a, b) => (a.properties.due_at || "9").localeCompare(b.properties.due_at || "9"));
  const ul = $("queue");
  ul.replaceChildren();
  $("queue-count").textContent = con.items.length;
  $("queue-empty").hidden = con.items.length > 0;  // an empty queue says so
  const areas = $("f-area");
  for (const f of con.items) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.id = f.id;
    li.classList.toggle("selected", f.id === con.selected);
    li.innerHTML = `<button type="button" class="item"><span class="line"><b></b><span class="state"></span></span><span class="line sub"><span class="what"></span><span class="due"></span></span></button>`;
    li.querySelector("b").textContent = p.code;
    li.querySelector(".state").textContent = STATE_ZH[p.state] || p.state;
    li.querySelector(".what").textContent = `${p.category_name} · ${p.street_name || ""} ${p.grid_name || ""}${p.near_boundary ? " · 近边界" : ""}`;
    li.querySelector(".due").dataset.due = p.due_at || "";
    li.querySelector("button").addEventListener("click", () => open(f.id));
    ul.append(li);
    for (const [code, name] of [[p.street_code, p.street_name], [p.community_code, p.community_name]]) {
      if (code && !areas.querySelector(`option[value="${code}"]`)) areas.append(new Option(name, code));
    }
  }
  tick();
}

function tick() {  // live countdowns, once a second
  for (const el of document.querySelectorAll("[data-due]")) {
    const t = left({ due_at: el.dataset.due || null });
    el.textContent = t.text;
    el.classList.toggle("overdue", t.overdue);
  }
}

async function loadBoard() {
  const [r, s] = await Promise.all([api("/api/v1/incidents?state=reported,accepted,dispatched,in_progress,suspended&limit=1000"),
    api("/api/v1/incidents/stats")]);
  if (!r.ok || !s.ok) return;
  const all = (await r.json()).features.map((f) => ({ id: f.id, ...f.properties }));
  const stats = await s.json(), n = (state) => stats.by_state[state] || 0;
  $("n-reported").textContent = n("reported");
  $("n-accepted").textContent = n("accepted");
  $("n-handling").textContent = stats.open - n("reported") - n("accepted");  // open, past the centre
  $("n-overdue").textContent = stats.overdue;
  const soon = all.filter((p) => p.due_at && new Date(p.due_at) - Date.now() < 2 * 3600_000).sort((a, b) => a.due_at.localeCompare(b.due_at)).slice(0, 30);
  const list = (ul, rows, sub) => {
    ul.replaceChildren();
    $(`${ul.id}-empty`).hidden = rows.length > 0;
    for (const p of rows) {
      const li = document.createElement("li");
      li.innerHTML = `<button type="button" class="item"><span class="line"><b></b><span class="due"></span></span><span class="sub"></span></button>`;
      li.querySelector("b").textContent = p.code;
      li.querySelector(".due").dataset.due = p.due_at || "";
      li.querySelector(".sub").textContent = sub(p);
      li.querySelector("button").addEventListener("click", () => open(p.id));
      ul.append(li);
    }
  };
  list($("sla-list"), soon, (p) => `${STATE_ZH[p.state]} · ${p.category_name} · ${LEVEL_ZH[p.level]}`);
  list($("escalated"), all.filter((p) => p.escalations > 0).slice(0, 30), (p) => `已上报 ${p.escalations} 次 · 现由${LEVEL_ZH[p.level]}办理`);
  tick();
}

function departments(level, chosen) {
  const select = $("department");
  select.replaceChildren();
  for (const d of con.departments.filter((x) => x.level === level)) select.append(new Option(d.name, d.code, false, d.code === chosen));
}

async function open(id) {
  con.selected = id;
  for (const li of $("queue").children) li.classList.toggle("selected", Number(li.dataset.id) === id);
  const r = await api(`/api/v1/incidents/${id}`);
  if (!r.ok) { $("act-error").textContent = await problem(r); return; }
  const again = con.incident?.id === id;  // the same one, moved on by someone: keep what I was typing and choosing
  const f = (con.incident = await r.json());
  const p = f.properties;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("d-code").textContent = p.code;
  $("d-category").textContent = `${p.major_name} / ${p.category_name}`;
  $("d-state").textContent = STATE_ZH[p.state] || p.state;
  const flags = [];
  if (p.near_boundary) flags.push(`近网格边界（相邻：${(p.adjacent_grid_codes || []).join("、")}）`);
  if (p.track_check?.status) flags.push(TRACK_ZH[p.track_check.status] || p.track_check.status);
  if (p.possible_duplicates.length) flags.push(`疑似重复 ${p.possible_duplicates.length} 件`);
  $("d-flags").textContent = flags.join(" · ");
  $("d-place").textContent = `${p.street_name || ""} ${p.community_name || ""} ${p.grid_name || ""}（${p.grid_code || "无网格"}）· 上报于 ${when(p.reported_at)}`;
  $("d-due").dataset.due = p.due_at || "";
  $("d-description").textContent = p.description || "（无文字描述）";
  con.photoUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  const photos = $("d-photos");
  photos.replaceChildren();
  for (const ph of p.photos) { const img = document.createElement("img"); img.alt = `${p.code} 现场照片`; photos.append(img); photo(img, ph.thumbnail, con.photoUrls); }
  const dups = $("d-duplicates");
  dups.replaceChildren();
  // the nearest few side by side (a busy corner has dozens; each would cost two requests)
  for (const d of p.possible_duplicates.slice(0, SIDE_BY_SIDE)) {
    const box = document.createElement("div");
    box.className = "dup";
    box.dataset.id = d.id;
    box.innerHTML = `<p><b></b> <span class="state"></span> 相距 <span class="m"></span> 米</p><p class="desc hint"></p><div class="photos"></div><button type="button" class="quiet">并入本件</button>`;
    box.querySelector("b").textContent = d.code;
    box.querySelector(".state").textContent = STATE_ZH[d.state] || d.state;
    box.querySelector(".m").textContent = Math.round(d.distance_m);
    box.querySelector("button").addEventListener("click", () => mergeHere(d.id));
    box.querySelector("button").disabled = true;  // until its own allowed actions say it may be merged
    dups.append(box);
    sideBySide(box, d.id);
  }
  const kids = $("d-children");
  kids.replaceChildren();
  if (p.children.length) {
    const h = document.createElement("h3"); h.textContent = "子任务";
    const ul = document.createElement("ul"); ul.className = "children";
    for (const k of p.children) { const li = document.createElement("li"); li.textContent = `${k.code} · ${k.department_name || LEVEL_ZH[k.level]} · ${STATE_ZH[k.state] || k.state}`; ul.append(li); }
    kids.append(h, ul);
  }
  $("d-timeline").replaceChildren(timeline(p.timeline));
  if (!again) {  // the catalogue's suggestion for a new one
    const cat = con.categories[p.category_code];
    $("level").value = cat?.handling_level || p.level;
    departments($("level").value, cat?.handling_level === "district" ? cat.department.code : undefined);
  }
  if (!again || !p.allowed_actions.includes("split")) $("split-parts").hidden = true;
  const box = $("actions");
  box.replaceChildren();
  for (const [action, label, cls, reason] of BUTTONS) {
    if (!p.allowed_actions.includes(action)) continue;
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.dataset.action = action;
    if (cls) b.className = cls;
    b.addEventListener("click", () => (action === "split" ? startSplit() : act(action, {}, reason)));
    box.append(b);
  }
  if (!box.children.length) box.textContent = "当前状态下无调度操作。";
  $("act-error").textContent = "";
  tick();
  con.map = con.map || (await pointMap("d-map"));
  con.map.show(f.geometry.coordinates[0], f.geometry.coordinates[1]);
}

// A possible duplicate beside the report: its words and first photo, to judge them as one.
async function sideBySide(box, id) {
  const r = await api(`/api/v1/incidents/${id}`);
  if (!r.ok) return;
  const q = (await r.json()).properties;
  box.querySelector("button").disabled = !q.allowed_actions.includes("merge");
  box.querySelector(".desc").textContent = `${q.category_name} · ${q.description || "（无文字描述）"} · 上报于 ${when(q.reported_at)}`;
  if (q.photos.length) {
    const img = document.createElement("img");
    img.alt = `${q.code} 现场照片`;
    box.querySelector(".photos").append(img);
    photo(img, q.photos[0].thumbnail, con.photoUrls);
  }
}

// 合并: the duplicate ends as merged into the one open here, which carries on (on the version I read it at).
async function mergeHere(duplicate) {
  const r = await api(`/api/v1/incidents/${duplicate}`);
  if (!r.ok) { $("act-error").textContent = await problem(r); return; }
  const d = await r.json();
  const m = await api(`/api/v1/incidents/${duplicate}/actions`, {
    method: "POST", headers: { "Content-Type": "application/json", "If-Match": `"v${d.properties.version}"` },
    body: JSON.stringify({ action: "merge", target_id: con.incident.id, note: `与 ${con.incident.properties.code} 重复` }),
  });
  if (!m.ok) { $("act-error").textContent = await problem(m); return; }
  await loadQueue();
  await open(con.incident.id);
}

function addPart(level = "community") {
  const li = document.createElement("li");
  li.innerHTML = `<label>层级 <select class="p-level"></select></label><label>承办单位 <select class="p-dept"></select></label><label>任务说明 <input class="p-note" maxlength="500"></label>`;
  const lv = li.querySelector(".p-level"), dept = li.querySelector(".p-dept");
  for (const [k, v] of Object.entries(LEVEL_ZH)) lv.append(new Option(v, k, false, k === level));
  const fill = () => { dept.replaceChildren(...con.departments.filter((d) => d.level === lv.value).map((d) => new Option(d.name, d.code))); };
  lv.addEventListener("change", fill);
  fill();
  $("parts").append(li);
}

function startSplit() {
  $("parts").replaceChildren();
  addPart("community");
  addPart("district");
  $("split-parts").hidden = false;
  $("parts").querySelector("select").focus();
}

async function act(action, extra = {}, needsReason = false) {
  const note = $("note").value.trim();
  $("act-error").textContent = "";
  if (needsReason && !note) { $("act-error").textContent = `请先写明${ACTION_ZH[action] || action}原因`; $("note").focus(); return; }
  const f = con.incident;
  const body = { action, note, ...extra };
  if (action === "dispatch") Object.assign(body, { level: $("level").value, department: $("department").value });
  if (action === "extend") body.hours = Number($("hours").value);
  const r = await api(`/api/v1/incidents/${f.id}/actions`, {
    method: "POST", headers: { "Content-Type": "application/json", "If-Match": `"v${f.properties.version}"` }, body: JSON.stringify(body),
  });
  if (r.status === 409) {
    const p = await r.json();
    await open(f.id);
    $("act-error").textContent = `该事件已被他人处理，现为「${STATE_ZH[p.current_state] || p.current_state}」，页面已刷新，请确认后再操作。`;
    return;
  }
  if (!r.ok) { $("act-error").textContent = await problem(r); return; }
  $("note").value = "";
  await Promise.all([loadQueue(), loadBoard()]);
  await open(f.id);
}

function live() {
  con.feed?.close();
  const feed = (con.feed = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(session.token)}`));
  feed.onopen = () => { $("live").textContent = "实时"; $("live").classList.remove("down"); };
  feed.onerror = () => { $("live").textContent = "实时连接中断，正在重连"; $("live").classList.add("down"); };
  const again = () => { clearTimeout(con.reload); con.reload = setTimeout(() => { loadQueue(); loadBoard(); }, 200); };
  for (const kind of ["incident.new", "incident.state"]) {
    feed.addEventListener(kind, (ev) => {
      con.events += 1;
      const d = JSON.parse(ev.data);
      again();
      if (d.id === con.selected) { clearTimeout(con.reopen); con.reopen = setTimeout(() => open(d.id), 200); }
    });
  }
}

// 热线待定位: 8890/12345 cases whose spoken address could not be placed; the dispatcher picks a
// candidate, or looks up the address as checked with the caller, and the case joins the queue.
async function loadHotline() {
  if (!["commander", "admin"].includes(con.role)) return;  // the command centre's; officers take none
  const r = await api("/api/v1/intake/hotline/queue");
  $("hotline-box").hidden = !r.ok;
  if (!r.ok) return;
  const cases = (await r.json()).cases;
  $("hotline-count").textContent = cases.length;
  $("hotline-empty").hidden = cases.length > 0;
  const ul = $("hotline");
  ul.replaceChildren();
  for (const c of cases) {
    const li = document.createElement("li");
    li.dataset.case = c.case_number;
    li.innerHTML = `<p class="line"><b></b><time></time></p><p class="said"></p><p class="sub"></p><div class="cands"></div>` +
      `<form><label>核实后的地址<input name="q" maxlength="200" required></label><button type="submit" class="quiet">查找</button></form>` +
      `<p class="error" role="alert"></p>`;
    li.querySelector("b").textContent = `${c.line || "8890"} · ${c.case_number}`;
    li.querySelector("time").textContent = when(c.received_at);
    li.querySelector(".said").textContent = `来电地址：${c.address_text}`;
    li.querySelector(".sub").textContent = `${con.categories[c.category_code]?.name || c.category_code} · ${c.description || ""}`;
    candidates(li, c.candidates);
    li.querySelector("form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const g = await api(`/api/v1/geocode?q=${encodeURIComponent(ev.target.q.value)}`);
      li.querySelector(".error").textContent = g.ok ? "" : await problem(g);
      if (g.ok) candidates(li, (await g.json()).candidates);
    });
    ul.append(li);
  }
}

function candidates(li, list) {
  const box = li.querySelector(".cands");
  box.replaceChildren();
  if (!list.length) { box.textContent = "没有相近的标准地址：请回访来电人核实后查找。"; return; }
  for (const cand of list.slice(0, 3)) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "quiet";
    b.textContent = `定位到 ${cand.address}`;
    b.addEventListener("click", () => placeCase(li, cand.code));
    box.append(b);
  }
}

async function placeCase(li, code) {
  const r = await api(`/api/v1/intake/hotline/${encodeURIComponent(li.dataset.case)}/place`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ address_code: code }),
  });
  if (!r.ok) { li.querySelector(".error").textContent = await problem(r); return; }
  await Promise.all([loadHotline(), loadQueue(), loadBoard()]);
}

async function start() {
  if (!session.token) { show("login"); return; }
  const me = await api("/api/v1/auth/me");
  if (me.status === 401) { logout(); show("login"); return; }
  const who = await me.json();
  if (!["commander", "street_officer", "community_officer", "admin"].includes(who.role)) {
    logout(); show("login"); $("login-error").textContent = "该账号无调度权限"; return;
  }
  $("who").textContent = who.display_name;
  con.role = who.role;
  show("console");
  const [cats, depts] = await Promise.all([api("/api/v1/categories").then((r) => r.json()), api("/api/v1/departments").then((r) => r.json())]);
  con.departments = depts;
  for (const m of cats) {
    $("f-category").append(new Option(m.name, m.code));
    for (const it of m.items) con.categories[it.code] = it;
  }
  live();
  await Promise.all([loadQueue(), loadBoard(), loadHotline()]);
  con.loaded = true;
}

function move(step) {
  if (!con.items.length) return;
  const at = con.items.findIndex((f) => f.id === con.selected);
  const next = con.items[Math.max(0, Math.min(con.items.length - 1, at + step))];
  open(next.id);
  $("queue").querySelector(`li[data-id="${next.id}"] button`)?.focus();
}

onLogin(start);
$("logout").addEventListener("click", () => { con.feed?.close(); logout(); show("login"); });
$("level").addEventListener("change", () => departments($("level").value));
$("add-part").addEventListener("click", () => addPart());
$("do-split").addEventListener("click", () => {
  const parts = [...$("parts").children].map((li) => ({ level: li.querySelector(".p-level").value, department: li.querySelector(".p-dept").value, note: li.querySelector(".p-note").value }));
  act("split", { parts });
});
for (const id of ["f-state", "f-area", "f-category"]) $(id).addEventListener("change", loadQueue);
document.addEventListener("keydown", (ev) => {
  if (ev.target.closest("textarea, input, select") || $("console-view").hidden) return;
  const allowed = con.incident?.properties.allowed_actions || [];
  if (ev.key === "ArrowDown") { ev.preventDefault(); move(1); }
  else if (ev.key === "ArrowUp") { ev.preventDefault(); move(-1); }
  else if (ev.key === "a" && allowed.includes("accept")) act("accept");
  else if (ev.key === "d" && allowed.includes("dispatch")) act("dispatch");
  else if (ev.key === "s" && allowed.includes("split")) startSplit();
  else if (ev.key === "/") { ev.preventDefault(); $("f-state").focus(); }
});
setInterval(tick, 1000);
setInterval(() => { if (!document.hidden && !$("console-view").hidden) loadBoard(); }, 60_000);
setInterval(() => { if (!document.hidden && !$("console-view").hidden) loadHotline(); }, 20_000);
start();
