// The Dances page: upload a video (progress + ETA), follow its add, read the quality
// report, trim / pick / force and add again, enable dances and order the booth rotation.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let dances = [];
  let rotation = { mode: "order", dances: [], configured: false };
  let open = null; // the dance shown in the dialog
  let stopSkeleton = null;
  let previewOf = ""; // the stored version the dialog's preview shows

  function esc(s) {
    return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function fmtEta(s) {
    if (s === null || s === undefined || !isFinite(s)) return "";
    if (s < 60) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  }
  function fmtValue(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, "");
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (Array.isArray(v)) return v.map(fmtValue).join(", ");
    if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${fmtValue(x)}`).join(" · ");
    return String(v);
  }
  const busy = (d) => ["uploading", "adding"].includes(d.status);
  function statusCell(d) {
    if (busy(d)) {
      const pct = Math.round((d.progress || 0) * 100);
      const eta = d.eta_s !== null && d.eta_s !== undefined ? ` · ETA ${fmtEta(d.eta_s)}` : "";
      return `<div class="bar-outer"><div class="bar-inner" data-pct="${pct}"></div></div><span class="pct">${pct}%${eta}</span>
        <div class="muted">${esc(d.status)}</div>`;
    }
    const label = d.forced ? "ready (forced)" : d.status;
    let extra = "";
    if (d.status === "refused" && d.report && d.report.reasons) extra = `<div class="row-error">${esc(d.report.reasons[0] || "")}</div>`;
    if (d.error) extra = `<div class="row-error">${esc(d.error)}</div>`;
    if (d.status !== "ready" && d.available) extra += '<div class="muted">the previous version is kept</div>';
    return `<span class="state d-${esc(d.status)}${d.forced ? " d-forced" : ""}">${esc(label)}</span>${extra}`;
  }
  // Shares (0-1) of the quality report, shown as percentages.
  const SHARES = ["dancer_found", "imputed_total", "feet_visible", "multi_people"];
  const LABELS = { dancer_found: "dancer found", imputed_total: "repaired", feet_visible: "feet seen", people_max: "people" };
  const HIDDEN = ["reasons", "hints", "problems", "notes", "forced"];
  function fmtReport(k, v) {
    if (SHARES.includes(k) && typeof v === "number") return `${Math.round(v * 100)}%`;
    if (k === "imputed" && v && typeof v === "object") return Object.entries(v).map(([g, x]) => `${g} ${Math.round(x * 100)}%`).join(" · ");
    return fmtValue(v);
  }
  function summary(d) {
    const r = d.report;
    if (!r) return d.builtin ? '<span class="muted">built in</span>' : "";
    const keys = ["dancer_found", "imputed_total", "feet_visible", "people_max"].filter((k) => k in r);
    return keys.map((k) => `<span class="kv">${esc(LABELS[k])} <b>${esc(fmtReport(k, r[k]))}</b></span>`).join(" ");
  }
  function render() {
    $("dances-body").innerHTML = dances.map((d) => {
      const length = d.duration_s ? `${d.duration_s.toFixed(1)} s` : "";
      const enable = `<label class="inline"><input type="checkbox" data-enable="${esc(d.name)}" ${d.enabled ? "checked" : ""} ${d.available ? "" : "disabled"}> enabled</label>`;
      const del = d.builtin ? "" : `<button class="small danger" data-act="delete" data-name="${esc(d.name)}">Delete</button>`;
      return `<tr data-dance="${esc(d.name)}"><td><div class="email">${esc(d.title)}</div><div class="sid">${esc(d.name)}${d.builtin ? " · built in" : ""}</div></td>
        <td class="status">${statusCell(d)}</td><td>${length}</td><td class="summary">${summary(d)}</td><td>${enable}</td>
        <td class="row-actions"><button class="small primary" data-act="open" data-name="${esc(d.name)}">Report &amp; preview</button> ${del}</td></tr>`;
    }).join("");
    $("dances-body").querySelectorAll(".bar-inner[data-pct]").forEach((el) => { el.style.width = el.dataset.pct + "%"; });
    const title = (n) => (dances.find((d) => d.name === n) || { title: n }).title;
    $("rotation-mode").value = rotation.mode;
    $("rotation-note").textContent = rotation.configured ? `${rotation.dances.length} enabled; the kiosk lets visitors choose when more than one is.`
      : "Nothing enabled yet: every visitor performs the configured default dance.";
    $("rotation-list").innerHTML = rotation.dances.map((n, i) => `<li data-name="${esc(n)}"><span>${esc(title(n))}</span>
      <button class="small" data-move="-1" data-i="${i}" ${i === 0 ? "disabled" : ""} aria-label="move up">↑</button>
      <button class="small" data-move="1" data-i="${i}" ${i === rotation.dances.length - 1 ? "disabled" : ""} aria-label="move down">↓</button></li>`).join("");
  }
  async function refresh() {
    try {
      [dances, rotation] = await Promise.all([api("GET", "/api/dances"), api("GET", "/api/booth/rotation")]);
      render();
      if (open) showDetail(dances.find((d) => d.name === open), false);
    } catch (err) {
      if (err.status === 401) window.location.href = "/login";
      else showError($("library-error"), err);
    }
  }
  async function saveRotation(names, mode) {
    showError($("rotation-error"), null);
    try {
      rotation = await api("PUT", "/api/booth/rotation", { mode: mode || rotation.mode, dances: names });
    } catch (err) { showError($("rotation-error"), err); }
    await refresh();
  }

  // Upload: the file itself is the body, so the browser streams it and reports progress.
  function cleanName(file) {
    return file.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^[-_]+|[-_]+$/g, "").slice(0, 64) || "dance";
  }
  $("upload-file").addEventListener("change", () => {
    const f = $("upload-file").files[0];
    if (f && !$("upload-name").value) $("upload-name").value = cleanName(f.name);
  });
  $("upload-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = $("upload-file").files[0];
    const name = $("upload-name").value.trim();
    showError($("upload-error"), null);
    if (!file) return showError($("upload-error"), new Error("Choose a video file first."));
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) {
      return showError($("upload-error"), new Error("Name: letters, digits, - and _ (start with a letter or digit)."));
    }
    const maxMb = parseFloat($("dances-page").dataset.maxMb);
    if (file.size > maxMb * 1e6) {
      return showError($("upload-error"), new Error(`The video is ${(file.size / 1e6).toFixed(0)} MB; the limit is ${maxMb} MB.`));
    }
    const q = new URLSearchParams({ name, title: $("upload-title").value.trim() });
    const xhr = new XMLHttpRequest();
    const t0 = performance.now();
    xhr.open("POST", "/api/dances?" + q.toString());
    xhr.setRequestHeader("X-Dancebooth", "1");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    $("upload-progress").hidden = false;
    $("upload-button").disabled = true;
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const frac = e.loaded / e.total, elapsed = (performance.now() - t0) / 1000;
      const eta = frac > 0.01 ? elapsed * (1 - frac) / frac : null;
      $("upload-bar").style.width = Math.round(frac * 100) + "%";
      $("upload-pct").textContent = `upload ${Math.round(frac * 100)}%` + (eta !== null ? ` · ETA ${fmtEta(eta)}` : "");
    };
    xhr.onloadend = async () => {
      $("upload-button").disabled = false;
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 202) {
        $("upload-pct").textContent = "uploaded: the check runs in the library below";
        setTimeout(() => { $("upload-progress").hidden = true; }, 5000);
        $("upload-form").reset();
        await refresh();
        openDetail(data.name);
      } else {
        $("upload-progress").hidden = true;
        let msg = data && data.detail ? data.detail : (xhr.status ? xhr.statusText : "the upload was interrupted");
        if (Array.isArray(msg)) msg = msg.map((d) => d.msg).join("; ");
        showError($("upload-error"), new Error(msg));
      }
    };
    xhr.send(file);
  });

  // The dialog: report, reasons and hints, preview, trim / pick / mirror, add again, force.
  function personLabel(v) {
    return v === -3 ? "automatic" : v === -2 ? "largest" : v === -1 ? "most central" : `person ${v}`;
  }
  function personOption(v) { return v === -3 ? null : v === -2 ? "largest" : v === -1 ? "central" : String(v); }
  function personValue(o) { return o === null || o === undefined ? -3 : o === "largest" ? -2 : o === "central" ? -1 : parseInt(o, 10); }
  function syncOutputs() {
    const s = parseFloat($("trim-start").value), e = parseFloat($("trim-end").value);
    $("trim-start-out").textContent = `${s.toFixed(1)} s`;
    $("trim-end-out").textContent = e >= parseFloat($("trim-end").max) ? "end" : `${e.toFixed(1)} s`;
    $("pick-person-out").textContent = personLabel(parseInt($("pick-person").value, 10));
  }
  ["trim-start", "trim-end", "pick-person"].forEach((id) => $(id).addEventListener("input", () => {
    if (parseFloat($("trim-end").value) <= parseFloat($("trim-start").value)) {
      if (id === "trim-start") $("trim-end").value = Math.min(parseFloat($("trim-start").value) + 0.1, parseFloat($("trim-end").max));
      else $("trim-start").value = Math.max(parseFloat($("trim-end").value) - 0.1, 0);
    }
    syncOutputs();
  }));
  function sourceSeconds(d) {
    const r = d.report || {};
    return r.source_duration_s || r.video_duration_s || r.duration_s || d.duration_s || 60;
  }
  function showDetail(d, first) {
    if (!d) return;
    $("detail-title").textContent = d.title;
    const pct = Math.round((d.progress || 0) * 100);
    $("detail-status").textContent = busy(d) ? `${d.status} ${pct}%` + (d.eta_s ? ` · ETA ${fmtEta(d.eta_s)}` : "")
      : d.status + (d.forced ? " (kept although refused)" : "") + (d.error ? `: ${d.error}` : "");
    const r = d.report || {};
    const refused = d.status === "refused";
    $("detail-refused").hidden = !refused;
    $("detail-reasons").innerHTML = (r.reasons || []).map((x) => `<li>${esc(x)}</li>`).join("");
    $("detail-hints").innerHTML = (r.hints || []).map((x) => `<li>${esc(x)}</li>`).join("");
    $("detail-report").innerHTML = Object.entries(r).filter(([k]) => !HIDDEN.includes(k))
      .map(([k, v]) => `<tr><th>${esc((LABELS[k] || k).replace(/_/g, " "))}</th><td>${esc(fmtReport(k, v))}</td></tr>`).join("")
      + (r.notes || []).map((n) => `<tr><th>note</th><td>${esc(n)}</td></tr>`).join("");
    $("detail-force").hidden = !(refused && d.can_rerun);
    $("detail-rerun").disabled = !d.can_rerun || busy(d);
    $("detail-edit").disabled = !d.can_rerun || busy(d);
    if (first) {
      const max = Math.max(1, Math.ceil(sourceSeconds(d) * 10) / 10);
      const o = d.options || {};
      $("trim-start").max = $("trim-end").max = String(max);
      $("trim-start").value = String(o.start_s ?? 0);
      $("trim-end").value = String(o.length_s ? (o.start_s || 0) + o.length_s : max);
      $("pick-person").value = String(personValue(o.person));
      $("opt-mirror").checked = !!o.mirror;
      syncOutputs();
    }
    const version = `${d.name}:${d.files.join(",")}:${d.frames}:${d.forced}`;
    if (first || version !== previewOf) {
      previewOf = version;
      showPreview(d);
    }
  }
  async function showPreview(d) {
    if (stopSkeleton) { stopSkeleton(); stopSkeleton = null; }
    const file = (f) => `/api/dances/${encodeURIComponent(d.name)}/files/${f}`;
    const video = d.files.includes("preview.mp4") ? "preview.mp4" : null;
    $("detail-video").hidden = !video;
    if (video) $("detail-video").src = file(video); else $("detail-video").removeAttribute("src");
    $("detail-skeleton").hidden = true;
    $("detail-preview-note").textContent = video ? "The skeleton over the kept video; repaired joints are marked in red." : "";
    if (!video && d.files.includes("keypoints.csv") && d.available) {
      try {
        const res = await fetch(file("keypoints.csv"), { credentials: "same-origin" });
        const frames = Skeleton.parse(await res.text());
        $("detail-skeleton").hidden = false;
        stopSkeleton = Skeleton.play($("detail-skeleton"), frames, d.fps || 30, d.width || 512, d.height || 512);
        $("detail-preview-note").textContent = "The stored skeleton (no video kept); hollow orange joints were repaired.";
      } catch (err) { showError($("detail-error"), err); }
    } else if (!d.available) {
      $("detail-preview-note").textContent = "No stored version yet: the preview appears once the dance is kept.";
    }
  }
  async function openDetail(name) {
    open = name;
    showError($("detail-error"), null);
    try {
      const d = await api("GET", `/api/dances/${encodeURIComponent(name)}`);
      if (!$("detail").open) $("detail").showModal();
      showDetail(d, true);
    } catch (err) { showError($("library-error"), err); open = null; }
  }
  function closeDetail() {
    if (stopSkeleton) { stopSkeleton(); stopSkeleton = null; }
    $("detail-video").pause();
    $("detail-video").removeAttribute("src");
    $("detail").close();
    open = null;
  }
  async function rerun(force) {
    showError($("detail-error"), null);
    const max = parseFloat($("trim-end").max), s = parseFloat($("trim-start").value), e = parseFloat($("trim-end").value);
    const body = {
      start_s: s > 0 ? s : null,
      length_s: e < max ? Math.round((e - s) * 1000) / 1000 : null,
      person: personOption(parseInt($("pick-person").value, 10)),
      mirror: $("opt-mirror").checked,
      force,
    };
    try {
      const d = await api("POST", `/api/dances/${encodeURIComponent(open)}/add`, body);
      showDetail(d, false);
    } catch (err) { showError($("detail-error"), err); }
    await refresh();
  }
  $("detail-rerun").addEventListener("click", () => rerun(false));
  $("detail-force").addEventListener("click", () => rerun(true));
  $("detail-close").addEventListener("click", closeDetail);
  $("detail").addEventListener("close", () => { open = null; if (stopSkeleton) { stopSkeleton(); stopSkeleton = null; } });

  $("dances-body").addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-act]");
    if (!btn) return;
    const name = btn.dataset.name;
    showError($("library-error"), null);
    if (btn.dataset.act === "open") return openDetail(name);
    if (!window.confirm(`Delete the dance ${name}: its keypoints, music, video and report?`)) return;
    try { await api("DELETE", `/api/dances/${encodeURIComponent(name)}`); }
    catch (err) { showError($("library-error"), err); }
    await refresh();
  });
  $("dances-body").addEventListener("change", (ev) => {
    const box = ev.target.closest("input[data-enable]");
    if (!box) return;
    const name = box.dataset.enable;
    const names = rotation.dances.filter((n) => n !== name);
    if (box.checked) names.push(name);
    saveRotation(names);
  });
  $("rotation-list").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-move]");
    if (!btn) return;
    const i = parseInt(btn.dataset.i, 10), j = i + parseInt(btn.dataset.move, 10);
    const names = rotation.dances.slice();
    [names[i], names[j]] = [names[j], names[i]];
    saveRotation(names);
  });
  $("rotation-mode").addEventListener("change", () => saveRotation(rotation.dances, $("rotation-mode").value));
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout");
    window.location.href = "/login";
  });
  refresh();
  setInterval(() => { if (dances.some(busy)) refresh(); }, 1000);
  setInterval(refresh, 15000);
})();
