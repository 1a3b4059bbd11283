// The mirror page: frames from /mirror/ws (u32 header length, JSON header, JPEG), each
// acknowledged so the server sends the newest next; MJPEG (/mirror/mjpeg) when WebSocket is unavailable. ?operator shows fps
// and latency. window.mirrorFrames counts the frames shown (the browser test reads it).
"use strict";
(function () {
  const LIMBS = [[5, 6], [5, 11], [6, 12], [11, 12], [5, 7], [7, 9], [6, 8], [8, 10], [11, 13],
    [13, 15], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4]];
  const img = document.getElementById("dancer");
  const canvas = document.getElementById("skeleton");
  const figures = document.getElementById("figures");
  const away = document.getElementById("away");
  const operator = new URLSearchParams(location.search).has("operator");
  figures.hidden = !operator;
  window.mirrorFrames = 0;
  let shownAt = [], latency = [], url = null, pending = null, drawing = false;

  function drawSkeleton(head) {
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#22243a";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!head.present || !head.skeleton.length) return;
    const h = canvas.height, w = Math.min(canvas.width, h * head.aspect);
    const ox = (canvas.width - w) / 2;
    const at = (j) => [ox + head.skeleton[j][0] * w, head.skeleton[j][1] * h];
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#50dca0";
    LIMBS.forEach(([a, b]) => {
      if (head.skeleton[a][2] < 0.2 || head.skeleton[b][2] < 0.2) return;
      ctx.beginPath(); ctx.moveTo(...at(a)); ctx.lineTo(...at(b)); ctx.stroke();
    });
  }

  function showFigures(head) {
    const now = performance.now();
    shownAt.push(now);
    while (shownAt.length && now - shownAt[0] > 2000) shownAt.shift();
    if (head.present) latency.push(head.keypoints_ms);
    if (latency.length > 60) latency.shift();
    if (!operator) return;
    const fps = shownAt.length > 1 ? (shownAt.length - 1) * 1000 / (now - shownAt[0]) : 0;
    const sorted = latency.slice().sort((a, b) => a - b);
    const p95 = sorted.length ? sorted[Math.floor(0.95 * (sorted.length - 1))] : 0;
    figures.textContent = `${fps.toFixed(1)} fps · keypoints→frame p95 ${p95.toFixed(0)} ms` +
      (head.present ? ` · camera→frame ${head.glass_ms.toFixed(0)} ms` : "");
  }

  // Only the newest message is decoded; one arriving while an image decodes replaces it.
  function show(head, jpeg) {
    if (drawing) { pending = [head, jpeg]; return; }
    drawing = true;
    const next = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
    img.onload = () => {
      if (url) URL.revokeObjectURL(url);
      url = next;
      window.mirrorFrames += 1;
      drawSkeleton(head);
      showFigures(head);
      drawing = false;
      if (pending) { const [h, j] = pending; pending = null; show(h, j); }
    };
    img.onerror = () => { URL.revokeObjectURL(next); drawing = false; };
    img.src = next;
  }

  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/mirror/ws`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { away.hidden = true; };
    ws.onmessage = (ev) => {
      ws.send("ack"); // the server sends the next (newest) frame once this one is taken
      const view = new DataView(ev.data);
      const n = view.getUint32(0, true);
      const head = JSON.parse(new TextDecoder().decode(new Uint8Array(ev.data, 4, n)));
      show(head, new Uint8Array(ev.data, 4 + n));
    };
    ws.onclose = () => {
      away.textContent = "reconnecting…";
      away.hidden = false;
      setTimeout(connect, 1000);
    };
  }

  if ("WebSocket" in window && !new URLSearchParams(location.search).has("mjpeg")) {
    connect();
  } else {
    img.onload = () => { window.mirrorFrames += 1; };
    img.src = "/mirror/mjpeg";
  }
})();
