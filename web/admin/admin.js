// 账号与事件目录: an admin creates accounts (a one-time password shown once, to be changed at the first
// login), disables and enables them, resets passwords and changes roles; every change is in the
// append-only admin log, listed here. Everything goes through the admin API with the admin's token.
import { loadCatalogue } from "/static/admin/catalogue.js";
import { api, logout, onLogin, problem, session, when } from "/static/shared/session.js";

const $ = (id) => document.getElementById(id);
const adm = (window.adm = { accounts: [], departments: [] });
const ROLE_ZH = { admin: "系统管理员", commander: "指挥中心", street_officer: "街道", community_officer: "社区", grid_worker: "网格员",
  department_handler: "职能部门", planner: "规划分析", citizen: "群众" };
const ACTION_ZH = { "user.add": "新建", "user.disable": "停用", "user.enable": "启用", "user.reset_password": "重置密码",
  "user.set_role": "修改角色", "user.password": "本人修改密码", "user.sso_add": "统一认证首次登录", "user.sso_update": "统一认证改角色",
  "catalogue.add": "新增事项", "catalogue.edit": "修改事项", "catalogue.delete": "删除事项" };
const PLACE = { street_officer: "jurisdiction", community_officer: "jurisdiction", department_handler: "department", grid_worker: "worker" };

function show(view) {
  $("login-view").hidden = view !== "login";
  $("admin-view").hidden = view !== "admin";
  $("logout").hidden = view !== "admin";
}

// Only the place the chosen role needs is asked for (a street's or community's code, a department, a worker).
function places(prefix = "f", role = $("role").value) {
  for (const kind of ["jurisdiction", "department", "worker"]) $(`${prefix}-${kind}`).hidden = PLACE[role] !== kind;
}

function placeOf(form, prefix) {  // the form's fields, without those its role does not ask for
  const data = Object.fromEntries(new FormData(form));
  for (const [field, kind] of [["jurisdiction_code", "jurisdiction"], ["department_code", "department"], ["worker_code", "worker"]]) {
    if ($(`${prefix}-${kind}`).hidden || !data[field]) delete data[field];
  }
  return data;
}

function secret(text, password) {
  const box = $("secret");
  box.hidden = false;
  box.textContent = `${text}：`;
  const code = document.createElement("code");
  code.textContent = password;
  box.append(code, "（仅显示这一次，请当面交给本人，首次登录须修改）");
}

async function call(path, options = {}) {
  const r = await api(path, { ...options, headers: { "Content-Type": "application/json", ...(options.headers || {}) } });
  if (!r.ok) throw new Error(await problem(r));
  return r.json();
}

async function load() {
  adm.accounts = await call("/api/v1/admin/users");
  const tbody = $("accounts");
  tbody.replaceChildren();
  $("count").textContent = adm.accounts.length;
  for (const a of adm.accounts) {
    const tr = document.createElement("tr");
    tr.dataset.username = a.username;
    tr.className = a.active ? "" : "off";
    for (const text of [a.username, a.display_name, ROLE_ZH[a.role] || a.role, a.jurisdiction_code || a.department_code || a.worker_code || "",
      (a.active ? "正常" : "已停用") + (a.must_change_password ? " · 待改密码" : "")]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    const td = document.createElement("td");
    const toggle = document.createElement("button");
    toggle.type = "button"; toggle.dataset.act = a.active ? "disable" : "enable";
    toggle.textContent = a.active ? "停用" : "启用";
    toggle.className = a.active ? "warn" : "";
    toggle.setAttribute("aria-label", `${toggle.textContent} ${a.username}`);
    toggle.addEventListener("click", () => act(a.username, () => call(`/api/v1/admin/users/${a.username}`, { method: "PATCH", body: JSON.stringify({ active: !a.active }) })));
    const reset = document.createElement("button");
    reset.type = "button"; reset.dataset.act = "reset"; reset.className = "quiet"; reset.textContent = "重置密码";
    reset.setAttribute("aria-label", `重置密码 ${a.username}`);
    reset.addEventListener("click", () => act(a.username, async () => {
      const r = await call(`/api/v1/admin/users/${a.username}/reset-password`, { method: "POST" });
      secret(`${a.username} 的新一次性密码`, r.one_time_password);
    }));
    td.append(toggle, reset);
    tr.append(td);
    tbody.append(tr);
  }
  const who = $("r-username");
  const chosen = who.value;
  who.replaceChildren(...adm.accounts.map((a) => new Option(`${a.username}（${a.display_name}）`, a.username, false, a.username === chosen)));
  const log = await call("/api/v1/admin/log?limit=50");
  const ol = $("log");
  ol.replaceChildren();
  for (const e of log) {
    const li = document.createElement("li");
    li.textContent = `${when(e.at)} ${e.actor} ${ACTION_ZH[e.action] || e.action} ${e.subject}`;
    ol.append(li);
  }
}

async function act(username, fn) {
  $("add-error").textContent = "";
  try { await fn(); } catch (e) { $("add-error").textContent = `${username}：${e.message}`; }
  await load();
}

async function start() {
  if (!session.token) { show("login"); return; }
  const me = await api("/api/v1/auth/me");
  if (me.status === 401) { logout(); show("login"); return; }
  const who = await me.json();
  if (who.role !== "admin") { logout(); show("login"); $("login-error").textContent = "该账号不是系统管理员"; return; }
  $("who").textContent = who.display_name;
  show("admin");
  for (const [k, v] of Object.entries(ROLE_ZH)) { $("role").append(new Option(v, k)); $("r-role").append(new Option(v, k)); }
  adm.departments = await (await api("/api/v1/departments")).json();
  for (const d of adm.departments.filter((x) => x.level === "district")) {
    $("department").append(new Option(d.name, d.code));
    $("r-department-select").append(new Option(d.name, d.code));
  }
  places();
  places("r", $("r-role").value);
  await Promise.all([load(), loadCatalogue(adm.departments)]);
  adm.loaded = true;
}

onLogin(start);
$("logout").addEventListener("click", () => { logout(); show("login"); });
$("role").addEventListener("change", () => places());
$("r-role").addEventListener("change", () => places("r", $("r-role").value));
$("role-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const { username, ...place } = placeOf(ev.target, "r");
  await act(username, () => call(`/api/v1/admin/users/${username}`, { method: "PATCH", body: JSON.stringify(place) }));
});
$("add-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = placeOf(ev.target, "f");
  await act(data.username, async () => {
    const r = await call("/api/v1/admin/users", { method: "POST", body: JSON.stringify(data) });
    secret(`${r.account.username} 已创建，一次性密码`, r.one_time_password);
    ev.target.reset();
    places();
  });
});
start();
