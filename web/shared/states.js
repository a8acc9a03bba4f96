// The incident states' and actions' names as residents, workers and desks read them (the server's, in Chinese).
export const STATE_ZH = {
  reported: "已上报", accepted: "已受理", dispatched: "已交办", in_progress: "处置中", suspended: "待补充",
  resolved: "已办结", closed: "已评价", rejected: "不予受理", merged: "已合并",
};
export const ACTION_ZH = {
  report: "上报", accept: "受理", reject: "不予受理", merge: "合并", dispatch: "交办", start: "开始处置",
  suspend: "挂起", resume: "恢复", resolve: "办结", escalate: "上报上级", rate: "评价", share_done: "联动处置",
  return: "退回", split: "拆分交办", urge: "督办", extend: "延期", subtasks_resolved: "子任务全部办结",
  closed_with_parent: "随主事件办结", reopened_with_parent: "随主事件重新办理",
};
// Who handles an incident: the catalogue's handling levels.
export const LEVEL_ZH = { grid: "网格", community: "社区", street: "街道", district: "区职能部门" };
