// What every signed-in page shares: the bearer token in localStorage, API calls that carry it,
// a problem+json answer in words, times in Chinese, and an incident's timeline as a list.
import { ACTION_ZH, STATE_ZH } from "/static/shared/states.js";

// Back from the district's single sign-on: the token came in the address's fragment (never sent to
// a server); keep it and take it out of the address bar and the history.
const sso = new URLSearchParams(location.hash.slice(1)).get("sso_token");
if (sso) {
  localStorage.setItem("onegrid.token", sso);
  history.replaceState(null, "", location.pathname + location.search);
}

export const session = { token: localStorage.getItem("onegrid.token") };

export async function api(path, options = {}) {
  const auth = session.token ? { Authorization: `Bearer ${session.token}` } : {};
  return fetch(path, { ...options, headers: { ...(options.headers || {}), ...auth } });
}

export async function problem(r) {
  try { const p = await r.json(); return p.detail || p.title || `错误 ${r.status}`; } catch (e) { return `错误 ${r.status}`; }
}

// Log in with the form's username and password: null when a token was issued, else what to tell
// the person. An account on a one-time password (first login, or reset by an admin) first chooses
// its own: the form grows two fields for it, and the next submit changes it, then logs in.
export async function login(form) {
  const data = new FormData(form);
  if (form.elements.new_password) {
    const fresh = data.get("new_password");
    if (fresh !== data.get("new_password_again")) return "两次输入的新密码不一致";
    const r = await fetch("/api/v1/auth/password", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: data.get("username"), password: data.get("password"), new_password: fresh }),
    });
    if (!r.ok) return r.status === 400 ? `新密码不符合要求：${POLICY}` : await problem(r);
    form.querySelector(".new-password").remove();
    form.elements.password.value = fresh;
    data.set("password", fresh);
  }
  const r = await fetch("/api/v1/auth/token", { method: "POST", body: new URLSearchParams(data) });
  if (r.status === 403) {
    const p = await r.json().catch(() => ({}));
    if (p.type === "/problems/password-change-required") { askNewPassword(form); return "首次登录（或密码已重置），请设置您自己的新密码"; }
  }
  if (r.status === 429) return "尝试次数过多，账号暂时锁定，请稍后再试";
  if (!r.ok) return "账号或密码错误";
  session.token = (await r.json()).access_token;
  localStorage.setItem("onegrid.token", session.token);
  return null;
}

// Every page's login form (#login-form, #login-error): sign in, say why not, or go on with `then`.
// When the district has an identity provider, the form also offers it: one account for every system.
export function onLogin(then) {
  const form = document.getElementById("login-form"), error = document.getElementById("login-error");
  offerSingleSignOn(form, error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const refused = await login(form);
    error.textContent = refused || "";
    if (!refused) await then();
  });
}

async function offerSingleSignOn(form, error) {
  const offered = await fetch("/api/v1/auth/providers").then((r) => r.json()).catch(() => ({}));
  if (!offered.oidc || form.querySelector(".sso")) return;
  const p = document.createElement("p"), a = document.createElement("a");
  p.className = "sso";
  a.href = `${offered.oidc.login}?next=${encodeURIComponent(location.pathname + location.search)}`;
  a.textContent = "统一身份认证登录";
  p.append("或 ", a);
  form.insertBefore(p, error);
}

const POLICY = "至少 10 位，含大写字母、小写字母、数字、符号中的三类（或 16 位以上），且不含账号名";

function askNewPassword(form) {
  if (form.querySelector(".new-password")) return;
  const box = document.createElement("div");
  box.className = "new-password";
  box.innerHTML = `<label>新密码 <input name="new_password" type="password" autocomplete="new-password" required></label>
    <label>再次输入新密码 <input name="new_password_again" type="password" autocomplete="new-password" required></label>
    <p class="hint"></p>`;
  box.querySelector(".hint").textContent = POLICY;
  form.querySelector("button[type=submit], button:not([type])").before(box);
  box.querySelector("input").focus();
}

export function logout() {
  localStorage.removeItem("onegrid.token");
  session.token = null;
}

// An incident's deadline in words: hours or minutes left, or how long overdue.
export function due(p) {
  if (!p.due_at) return "";
  const left = (new Date(p.due_at) - Date.now()) / 60000;
  if (left < 0) return `已超时 ${Math.round(-left / 60)} 小时`;
  return left < 120 ? `剩余 ${Math.round(left)} 分钟` : `剩余 ${Math.round(left / 60)} 小时`;
}

// A photo behind my token into an <img>: fetched, then shown from memory; its object URL goes
// into `kept` (when given) for the page to free when it shows the next incident.
export async function photo(img, url, kept = null) {
  const r = await api(url).catch(() => null);  // offline: the picture stays empty
  if (!r || !r.ok) return;
  img.src = URL.createObjectURL(await r.blob());
  if (kept) kept.push(img.src);
}

export function when(iso) {
  return new Date(iso).toLocaleString("zh-CN", { hour12: false });
}

export function timeline(steps) {
  const ol = document.createElement("ol");
  ol.className = "timeline";
  ol.setAttribute("aria-label", "办理过程");
  for (const e of steps) {
    const li = document.createElement("li");
    const t = document.createElement("time");
    t.dateTime = e.at;
    t.textContent = when(e.at);
    li.append(t, `${ACTION_ZH[e.action] || e.action} → ${STATE_ZH[e.to_state] || e.to_state}${e.note ? `：${e.note}` : ""}`);
    ol.append(li);
  }
  return ol;
}
