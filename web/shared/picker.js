// A photo picker's own line, in Chinese: how many photos are chosen (the browser's control is hidden,
// since it speaks the browser's language and is too small for a thumb).
export function watchPicker(input, line) {
  const say = () => { const n = input.files.length; line.textContent = n ? `已选择 ${n} 张照片` : "未选择照片"; };
  input.addEventListener("change", say);
  input.form.addEventListener("reset", () => setTimeout(say));  // after the reset has emptied it
  say();
}
