// A 12 MP photo is 3-5 MB: too much for a weak signal, and more than a handler needs. With a
// GPS fix the page sends a 1600 px copy; without one it keeps the original, whose EXIF GPS the
// server can use for the location.
const MAX_SIDE = 1600;

export async function shrink(file, located = true) {
  if (!located || !file.type.startsWith("image/")) return file;
  try {
    const bmp = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
    if (scale === 1 && file.size < 1_000_000) return file;
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bmp.width * scale);
    canvas.height = Math.round(bmp.height * scale);
    canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    return blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file;
  } catch (e) {
    return file;  // a format the browser cannot decode: let the server judge it
  }
}

// Photos as an outbox keeps them: name, type and bytes (IndexedDB stores ArrayBuffers everywhere).
export async function stored(files, located = true) {
  const small = await Promise.all([...files].map((f) => shrink(f, located)));
  return Promise.all(small.map(async (f) => ({ name: f.name, type: f.type, data: await f.arrayBuffer() })));
}
