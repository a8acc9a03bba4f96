// The incident states' names as residents and workers read them (the server's states, in Chinese).
export const STATE_ZH = {
  reported: "已上报", accepted: "已受理", dispatched: "已交办", in_progress: "处置中", suspended: "待补充",
  resolved: "已办结", closed: "已评价", rejected: "不予受理", merged: "已合并",
};
