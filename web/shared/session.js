// What every signed-in page shares: the bearer token in localStorage, API calls that carry it,
// a problem+json answer in words, times in Chinese, and an incident's timeline as a list.
import { ACTION_ZH, STATE_ZH } from "/static/shared/states.js";

export const session = { token: localStorage.getItem("onegrid.token") };

export async function api(path, options = {}) {
  const auth = session.token ? { Authorization: `Bearer ${session.token}` } : {};
  return fetch(path, { ...options, headers: { ...(options.headers || {}), ...auth } });
}

export async function problem(r) {
  try { const p = await r.json(); return p.detail || p.title || `错误 ${r.status}`; } catch (e) { return `错误 ${r.status}`; }
}

// Log in with the form's username and password; true when a token was issued.
export async function login(form) {
  const r = await fetch("/api/v1/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)) });
  if (!r.ok) return false;
  session.token = (await r.json()).access_token;
  localStorage.setItem("onegrid.token", session.token);
  return true;
}

export function logout() {
  localStorage.removeItem("onegrid.token");
  session.token = null;
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
