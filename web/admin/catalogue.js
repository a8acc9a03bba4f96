// 事件目录: the admin edits the incident catalogue here: each item's handling level, department and
// stage deadlines (a change is a new version: new reports take it, earlier ones keep theirs), and
// removes an item nobody reported under (the server refuses one in use, and says so).
import { api, problem } from "/static/shared/session.js";
import { LEVEL_ZH } from "/static/shared/states.js";

const $ = (id) => document.getElementById(id);
const STAGES = [["accept_hours", "accept", "受理"], ["dispatch_hours", "dispatch", "交办"], ["handle_hours", "handle", "处置"]];

function say(text, failed = false) {
  $("cat-msg").textContent = text;
  $("cat-msg").className = failed ? "error" : "hint";
}

function cell(tr, child) { const td = document.createElement("td"); td.append(child); tr.append(td); return td; }

function select(options, value, label) {
  const s = document.createElement("select");
  s.setAttribute("aria-label", label);
  for (const [v, text] of options) s.append(new Option(text, v, false, v === value));
  return s;
}

function row(major, item, departments, reload) {
  const tr = document.createElement("tr");
  tr.dataset.code = item.code;
  cell(tr, item.code);
  cell(tr, `${major.name} · ${item.name}`);
  const level = select(Object.entries(LEVEL_ZH), item.handling_level, `${item.name} 处置层级`);
  const dept = select(departments.map((d) => [d.code, d.name]), item.department.code, `${item.name} 责任部门`);
  cell(tr, level);
  cell(tr, dept);
  const hours = {};
  for (const [field, key, zh] of STAGES) {
    const input = document.createElement("input");
    Object.assign(input, { type: "number", min: "0.5", step: "0.5", required: true, value: item.deadlines_hours[key], name: field });
    input.setAttribute("aria-label", `${item.name} ${zh}时限（小时）`);
    hours[field] = input;
    cell(tr, input);
  }
  const save = document.createElement("button");
  Object.assign(save, { type: "button", textContent: "保存" });
  save.dataset.act = "save";
  save.setAttribute("aria-label", `保存 ${item.name}`);
  save.addEventListener("click", async () => {
    const change = {};
    if (level.value !== item.handling_level) change.handling_level = level.value;
    if (dept.value !== item.department.code) change.department_code = dept.value;
    for (const [field, key] of STAGES) if (Number(hours[field].value) !== item.deadlines_hours[key]) change[field] = Number(hours[field].value);
    if (!Object.keys(change).length) { say(`${item.code} ${item.name}：没有改动`); return; }
    const r = await api(`/api/v1/admin/categories/${item.code}`, {
      method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(change),
    });
    if (!r.ok) { say(`${item.code} ${item.name}：${await problem(r)}`, true); return; }
    const saved = await r.json();
    say(`${item.code} ${item.name} 已保存为第 ${saved.version} 版：之后上报的事件按新规定办理，此前的不变`);
    await reload();
  });
  const remove = document.createElement("button");
  Object.assign(remove, { type: "button", textContent: "删除", className: "warn" });
  remove.dataset.act = "delete";
  remove.setAttribute("aria-label", `删除 ${item.name}`);
  remove.addEventListener("click", async () => {
    if (!window.confirm(`删除事项 ${item.code} ${item.name}？`)) return;
    const r = await api(`/api/v1/admin/categories/${item.code}`, { method: "DELETE" });
    if (r.status === 409) {
      const p = await r.json();
      say(`${item.code} ${item.name} 不能删除：已有 ${p.incidents} 件事件归于此事项（可修改其时限与部门）`, true);
      return;
    }
    if (!r.ok) { say(`${item.code} ${item.name} 不能删除：${await problem(r)}`, true); return; }
    say(`${item.code} ${item.name} 已删除`);
    await reload();
  });
  const actions = cell(tr, save);
  actions.append(remove);
  return tr;
}

// The catalogue as it stands, one row per item; `departments` are those an item can go to.
export async function loadCatalogue(departments) {
  const majors = await (await api("/api/v1/categories")).json();
  const rows = majors.flatMap((m) => m.items.map((i) => row(m, i, departments, () => loadCatalogue(departments))));
  $("catalogue").replaceChildren(...rows);
  $("cat-count").textContent = rows.length;
}
