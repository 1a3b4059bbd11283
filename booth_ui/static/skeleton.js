// A dance's keypoints.csv drawn as a moving skeleton (COCO-17 + feet, protocol/skeleton.py).
// Joints with low visibility (repaired or unseen) are drawn hollow in orange.
"use strict";
const Skeleton = (function () {
  const LIMBS = [[5, 6], [5, 11], [6, 12], [11, 12], [5, 7], [7, 9], [6, 8], [8, 10], [11, 13],
    [13, 15], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4],
    [15, 17], [16, 18], [15, 19], [16, 20]]; // ankles to heels and foot tips (the extras)
  function parse(text) {
    const lines = text.trim().split(/\r?\n/);
    return lines.slice(1).map((line) => {
      const cells = line.split(",").map(Number);
      const joints = [];
      for (let i = 1; i + 2 < cells.length; i += 3) joints.push([cells[i], cells[i + 1], cells[i + 2]]);
      return joints;
    });
  }
  function draw(canvas, frame, width, height, seen) {
    const ctx = canvas.getContext("2d");
    const scale = Math.min(canvas.width / width, canvas.height / height);
    const ox = (canvas.width - width * scale) / 2, oy = (canvas.height - height * scale) / 2;
    const at = (j) => [ox + frame[j][0] * scale, oy + frame[j][1] * scale];
    ctx.fillStyle = "#22243a";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#50dca0";
    LIMBS.forEach(([a, b]) => {
      if (!frame[a] || !frame[b] || frame[a][2] <= 0 || frame[b][2] <= 0) return;
      ctx.beginPath(); ctx.moveTo(...at(a)); ctx.lineTo(...at(b)); ctx.stroke();
    });
    frame.forEach((j, i) => {
      if (j[2] <= 0) return;
      const [x, y] = at(i);
      ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI);
      if (j[2] >= seen) { ctx.fillStyle = "#ffd250"; ctx.fill(); }
      else { ctx.strokeStyle = "#ff8a3d"; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 3; ctx.strokeStyle = "#50dca0"; }
    });
  }
  // Plays the frames at fps on the canvas; returns a function that stops it.
  function play(canvas, frames, fps, width, height, seen = 0.5) {
    const t0 = performance.now();
    let handle = null;
    const tick = () => {
      const i = Math.floor(((performance.now() - t0) / 1000) * fps) % frames.length;
      draw(canvas, frames[i], width, height, seen);
      canvas.dataset.frame = String(i);
      handle = requestAnimationFrame(tick);
    };
    tick();
    return () => cancelAnimationFrame(handle);
  }
  return { parse, draw, play };
})();
