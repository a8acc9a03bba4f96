// The incident catalogue as a <select> of major classes and their items (a report form's 事件类别).
export function fillCategories(select, majors) {
  select.length = 1;
  for (const m of majors || []) {
    const group = document.createElement("optgroup");
    group.label = m.name;
    for (const it of m.items) group.append(new Option(it.name, it.code));
    select.append(group);
  }
}
