// Operator dashboard: visitors + jobs + nodes, refreshed from server-sent events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const GROUPS = {
    all: { label: "All", states: null },
    waiting: { label: "Waiting", states: ["registered", "retake"] },
    capture: { label: "Capture & upload", states: ["capturing", "uploaded"] },
    work: { label: "Training & rendering", states: ["queued", "training", "rendering"] },
    mail: { label: "Mail pending / failed", states: ["mail_pending", "mail_failed"] },
    delivered: { label: "Delivered", states: ["delivered"] },
    review: { label: "Needs review", states: ["needs_review"] },
    failed: { label: "Failed", states: ["failed", "mail_failed"] },
  };
  let filter = "all";
  let visitors = [];
  let current = null; // the session on stage
  let countdownTimer = null;
  let refreshes = 0; // numbers each refresh, so a stale answer cannot hide a new countdown
  let countdownFrom = Infinity; // first refresh that started after the capture began

  function esc(s) {
    return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function fmtEta(s) {
    if (s === null || s === undefined) return "";
    if (s < 60) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  }
  function renderFilters() {
    $("filters").innerHTML = Object.entries(GROUPS).map(([key, g]) => {
      const n = g.states ? visitors.filter((v) => g.states.includes(v.state)).length : visitors.length;
      return `<button class="chip ${key === filter ? "on" : ""}" data-filter="${key}">${g.label} <b>${n}</b></button>`;
    }).join("");
  }
  function actionsFor(v) {
    const b = (act, label, cls = "") => `<button class="small ${cls}" data-act="${act}" data-id="${esc(v.id)}" data-job="${v.job ? v.job.id : ""}">${label}</button>`;
    const out = [];
    if (["registered", "retake"].includes(v.state)) out.push(b("stage", "Call", "primary"));
    if (["capturing", "uploaded", "queued", "failed"].includes(v.state)) out.push(b("retake", "Retake"));
    if (v.job && ["queued", "running"].includes(v.job.state)) out.push(b("cancel", "Cancel"));
    if (v.job && ["failed", "cancelled"].includes(v.job.state)) out.push(b("retry", "Retry"));
    if (v.state === "needs_review") out.push(b("review", "Watch & decide", "primary"));
    if (retakeSuggested(v)) out.push(b("qa-accept", "Accept take"), b("qa-retake", "Retake", "primary"));
    if (["delivered", "mail_failed"].includes(v.state)) out.push(b("resend", "Re-send", v.state === "mail_failed" ? "primary" : ""));
    out.push(b("delete", "Delete", "danger"));
    return out.join(" ");
  }
  // Capture QA held the take: the fine-tune waits until the operator accepts or retakes.
  function retakeSuggested(v) {
    return v.state === "uploaded" && v.qa && !v.qa.passed && !v.qa.decision;
  }
  function qaStatus(v) {
    if (!v.qa) return "";
    const cov = v.qa.coverage === null || v.qa.coverage === undefined ? "" : ` · coverage ${Math.round(v.qa.coverage * 100)}%`;
    if (retakeSuggested(v)) {
      const reasons = v.qa.reasons.map((r) => `<li>${esc(r)}</li>`).join("");
      return `<div class="row-warn" data-qa="retake">⚠ retake suggested${esc(cov)}<ul>${reasons}</ul></div>`;
    }
    const how = v.qa.passed ? "QA passed" : `QA ${esc(v.qa.decision || "")}`.replace("_", "-");
    return `<div class="muted" data-qa="${esc(v.qa.decision || "")}">${how}${esc(cov)}</div>`;
  }
  // The email's own state: the session says "mail pending" until the server took it.
  function mailStatus(m) {
    const when = m.next_attempt_at ? new Date(m.next_attempt_at.endsWith("Z") || /[+-]\d\d:\d\d$/.test(m.next_attempt_at) ? m.next_attempt_at : m.next_attempt_at + "Z") : null;
    const next = when ? `, next try ${when.toLocaleTimeString()}` : "";
    return `<span class="mail m-${esc(m.state)}">email ${esc(m.state)} · attempt ${m.attempts}${esc(next)}</span>`;
  }
  function renderQueue() {
    const g = GROUPS[filter];
    const rows = visitors.filter((v) => !g.states || g.states.includes(v.state));
    $("queue-body").innerHTML = rows.map((v) => {
      const job = v.job;
      const pct = job && job.state === "running" ? Math.round(job.progress * 100) : null;
      const bar = (p, label) => `<div class="bar-outer"><div class="bar-inner" data-pct="${p}"></div></div><span class="pct">${p}%${label ? " · " + esc(label) : ""}</span>`;
      let progress = job ? `<span class="muted">${esc(job.kind)} ${esc(job.state)}</span>` : "";
      if (pct !== null) progress = bar(pct, job.step);
      else if (v.mail && ["mail_pending", "mail_failed"].includes(v.state)) progress = mailStatus(v.mail);
      else if (v.upload !== null && v.upload !== undefined && ["capturing", "uploaded"].includes(v.state)) {
        progress = bar(Math.round(v.upload * 100), "upload");
      }
      let error = v.error ? `<div class="row-error">${esc(v.error)}</div>` : "";
      if (v.plate_warning) error += `<div class="row-warn" data-plate-warning>⚠ clean plate ${esc(v.plate_warning)}</div>`;
      error += qaStatus(v);
      return `<tr data-session="${esc(v.id)}"><td><div class="email">${esc(v.email || "—")}</div><div class="sid">${esc(v.id)}</div>${error}</td>
        <td><span class="state s-${esc(v.state)}">${esc(v.state)}</span></td><td>${progress}</td>
        <td>${job ? fmtEta(job.eta_s) : ""}</td><td>${qualityCell(v.quality)}</td><td class="row-actions">${actionsFor(v)}</td></tr>`;
    }).join("");
    // Widths set through the DOM: the page's CSP allows no inline style attributes.
    $("queue-body").querySelectorAll(".bar-inner[data-pct]").forEach((el) => {
      el.style.width = el.dataset.pct + "%";
    });
    $("queue-empty").hidden = rows.length > 0;
    renderFilters();
  }
  // The gate's figures per rendition: pose error (torso lengths) and how unlike the visitor.
  function qualityCell(q) {
    if (!q) return "";
    const f = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
    const nobody = q.dancer_missing ? ` · nobody ${Math.round(100 * q.dancer_missing)}%` : "";
    return `<span class="quality${q.held ? " held" : ""}" title="pose error in torso lengths · distance to the visitor's look (0-1)">` +
      `pose ${f(q.pose_error)} · look ${f(q.appearance)}${nobody}</span>`;
  }
  function renderTrend(t) {
    const f = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
    $("trend-summary").textContent = t.renditions
      ? `${t.renditions} renditions today (${t.day}), ${t.held} held for review`
      : "No renditions today yet.";
    $("trend-body").innerHTML = t.hours.map((h) => {
      const at = new Date(h.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return `<tr><td>${esc(at)}</td><td>${h.renditions}</td><td>${h.held}</td>` +
        `<td>${f(h.pose_error)}</td><td>${f(h.appearance)}</td><td>${f(h.flicker)}</td></tr>`;
    }).join("");
  }
  function renderStage(seq) {
    const box = $("stage-current");
    const v = current && visitors.find((x) => x.id === current);
    if (!v) {
      box.innerHTML = '<p class="muted">Nobody called yet.</p>';
    } else {
      box.innerHTML = `<div class="email big-text">${esc(v.email || v.id)}</div>
        <span class="state s-${esc(v.state)}" id="stage-state">${esc(v.state)}</span>`;
    }
    if ((!v || v.state !== "capturing") && seq >= countdownFrom) {
      clearInterval(countdownTimer);
      $("countdown").hidden = true;
    }
    $("start-capture").disabled = !v || !["registered", "retake"].includes(v.state);
    $("retake").disabled = !v || !["capturing", "uploaded", "queued", "failed"].includes(v.state);
  }
  function clockText(n) {
    if (n.clock_offset_s === null || n.clock_offset_s === undefined) return "—";
    const ms = Math.round(n.clock_offset_s * 1000);
    return `${ms > 0 ? "+" : ""}${ms} ms`;
  }
  // A node's failures since it started: pose-backend errors (those frames count as
  // nobody seen) and spooled frames that did not decode (quarantined, lost).
  function faults(s) {
    const pose = s.pose_failures ?? 0, lost = s.lost_frames ?? 0;
    const cls = (n) => (n > 0 ? ' class="fault"' : "");
    return `<dt${cls(pose)}>pose errors</dt><dd${cls(pose)} data-stat="pose_failures">${pose}</dd>
        <dt${cls(lost)}>lost</dt><dd${cls(lost)} data-stat="lost_frames">${lost}</dd>`;
  }
  // The node's clean plate (the empty booth the rendition is drawn over): its age, and a
  // warning asking for a retake when somebody was in view when it was taken.
  function ageText(s) {
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    return `${(s / 3600).toFixed(1)} h ago`;
  }
  function plateInfo(n) {
    const p = n.plate;
    const btn = `<button class="small secondary" data-plate="${esc(n.id)}">Retake plate</button>`;
    if (!p) return `<p class="plate" data-plate-state="none">No clean plate yet ${btn}</p>`;
    const what = `${p.width}×${p.height}, ${ageText(p.age_s)}${p.by_operator ? " (operator)" : ""}`;
    if (p.warning) {
      return `<p class="plate warn" role="alert" data-plate-state="person">⚠ ${esc(p.warning)} — ${what} ${btn}</p>`;
    }
    return `<p class="plate" data-plate-state="ok">Clean plate ${what} ${btn}</p>`;
  }
  async function takePlate(node) {
    showError($("nodes-error"), null);
    try {
      await api("POST", "/api/booth/plate", node ? { node } : {});
      $("nodes-note").hidden = false;
      $("nodes-note").textContent = `Plate requested from ${node || "every camera"}: keep the booth empty for a moment.`;
    } catch (err) { showError($("nodes-error"), err); }
  }
  function renderNodes(nodes) {
    if (!nodes.length) return;
    $("nodes").innerHTML = nodes.map((n) => {
      const s = n.stats || {};
      const img = n.has_preview ? `<img alt="preview of ${esc(n.id)}" src="/api/booth/nodes/${encodeURIComponent(n.id)}/preview.jpg?t=${Date.now()}">`
        : '<div class="no-preview">no preview</div>';
      return `<div class="node ${n.online ? "online" : "offline"}">${img}
        <div class="node-head"><b>${esc(n.id)}</b><span class="dot">${n.online ? "online" : "offline"}</span></div>
        <dl><dt>fps</dt><dd>${(s.capture_fps ?? 0).toFixed(1)}</dd><dt>inference</dt><dd>${(s.inference_ms ?? 0).toFixed(0)} ms</dd>
        <dt>dropped</dt><dd>${s.dropped_frames ?? 0}</dd><dt>spool</dt><dd>${s.spool_depth ?? 0}</dd>
        ${faults(s)}
        <dt>clock</dt><dd class="clock${n.clock_warning ? " warn" : ""}" title="node clock minus the server's, measured over MQTT">${clockText(n)}${n.clock_warning ? " ⚠ sync its clock" : ""}</dd></dl>
        ${plateInfo(n)}</div>`;
    }).join("");
  }
  // Which nodes confirmed erasing each deleted visitor from their spool.
  function renderErasures(rows) {
    $("erasures-empty").hidden = rows.length > 0;
    $("erasures-body").innerHTML = rows.map((r) => {
      const nodes = r.nodes.map((n) => `<span class="erase-${esc(n.state)}" data-node="${esc(n.node)}">`
        + `${esc(n.node)}: ${esc(n.state)}${n.frames ? ` (${n.frames} frames)` : ""}</span>`).join(", ");
      return `<tr><td>${esc(r.session_id)}</td><td>${nodes || "no nodes known"}</td></tr>`;
    }).join("");
  }
  // The live mirror: who it wears (visitors who agreed at the kiosk) and what it reports.
  let mirror = { wearers: [], candidates: [], mirrors: [] };
  function renderMirror(view) {
    mirror = view;
    const worn = new Set(view.wearers);
    const who = (sid) => {
      const c = view.candidates.find((x) => x.session_id === sid);
      return c && c.email ? c.email : sid;
    };
    const status = view.mirrors.map((m) => {
      const wearing = m.session_id ? `${esc(who(m.session_id))}'s model` : "the booth dancer";
      return `${esc(m.node)}: wearing ${wearing}${m.stale ? " — not reporting, is it running?" : ""}`;
    });
    $("mirror-status").innerHTML = status.length ? status.join("<br>")
      : "No live mirror has reported yet (<code>dancebooth cloud mirror</code>).";
    const problems = view.mirrors.filter((m) => m.error).map((m) => `${m.node}: ${m.error}`);
    showError($("mirror-problem"), problems.length ? new Error(problems.join("; ")) : null);
    $("mirror-empty").hidden = view.candidates.length > 0;
    $("mirror-booth").disabled = worn.size === 0;
    $("mirror-body").innerHTML = view.candidates.map((c) => {
      const on = worn.has(c.session_id);
      const until = new Date(c.consent_until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return `<tr class="${on ? "worn" : ""}" data-mirror-session="${esc(c.session_id)}">`
        + `<td>${esc(c.email || c.session_id)}${on ? " <strong>on the mirror</strong>" : ""}</td>`
        + `<td>${esc(c.dance || "")}</td><td>${esc(until)}</td><td>`
        + `<button class="secondary" data-mirror="as" data-id="${esc(c.session_id)}">Dance as</button> `
        + `<button class="ghost" data-mirror="${on ? "drop" : "add"}" data-id="${esc(c.session_id)}">`
        + `${on ? "Remove" : "Add to rotation"}</button></td></tr>`;
    }).join("");
  }
  async function setMirror(wearers) {
    showError($("mirror-error"), null);
    try {
      renderMirror(await api("PUT", "/api/booth/mirror", { wearers }));
    } catch (err) { showError($("mirror-error"), err); }
  }
  async function refresh() {
    const seq = ++refreshes;
    try {
      visitors = await api("GET", "/api/visitors");
      renderQueue();
      renderStage(seq);
      renderNodes(await api("GET", "/api/booth/nodes"));
      renderErasures(await api("GET", "/api/booth/erasure/nodes?limit=20"));
      renderTrend(await api("GET", "/api/booth/quality"));
      renderMirror(await api("GET", "/api/booth/mirror"));
    } catch (err) {
      if (err.status === 401) window.location.href = "/login";
    }
  }
  let pending = null;
  function refreshSoon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, 250);
  }
  // The capture's own length: a guided capture lasts the visitor's dance.
  function showCountdown(startAt, durationS) {
    const el = $("countdown");
    clearInterval(countdownTimer);
    el.hidden = false;
    const tick = () => {
      const left = startAt - Date.now() / 1000;
      if (left > 0) {
        el.textContent = Math.ceil(left);
        el.className = "countdown";
      } else if (left > -durationS) {
        el.textContent = "● REC " + Math.ceil(durationS + left) + " s";
        el.className = "countdown rec";
      } else {
        el.hidden = true;
        clearInterval(countdownTimer);
      }
    };
    tick();
    countdownTimer = setInterval(tick, 200);
  }
  async function act(action, id, job) {
    const error = $("stage-error");
    showError(error, null);
    try {
      if (action === "stage") { current = id; }
      else if (action === "review") { openReview(id); return; }
      else if (action === "retake") await api("POST", "/api/booth/retake", { session_id: id });
      else if (action === "qa-accept" || action === "qa-retake") {
        const decision = action === "qa-accept" ? "accept" : "retake";
        await api("POST", `/api/visitors/${encodeURIComponent(id)}/qa`, { decision });
      }
      else if (action === "cancel") await api("POST", `/api/jobs/${job}/cancel`);
      else if (action === "retry") await api("POST", `/api/jobs/${job}/retry`);
      else if (action === "resend") await api("POST", `/api/renditions/${encodeURIComponent(id)}/resend`);
      else if (action === "delete") {
        if (!window.confirm("Delete this visitor's email, frames and video?")) return;
        await api("DELETE", `/api/visitors/${encodeURIComponent(id)}`);
      }
    } catch (err) {
      showError(error, err);
    }
    await refresh();
  }
  // Review of a held rendition: watch the stored video (seekable), then decide.
  let reviewing = null;
  function openReview(id) {
    const v = visitors.find((x) => x.id === id);
    reviewing = id;
    $("review-who").textContent = v ? (v.email || v.id) : id;
    $("review-why").textContent = v && v.error ? v.error.replace(/^needs review: /, "") : "";
    $("review-video").src = `/api/renditions/${encodeURIComponent(id)}/video.mp4`;
    showChecks(id);
    $("review-reason").value = "";
    showError($("review-error"), null);
    $("review").showModal();
  }
  // The gate's figures beside its limits, its reasons, and the strip of the worst frames.
  const FIGURES = [
    ["dancer_missing", "frames with nobody", "max_missing", "pct", "max"],
    ["pose_error", "pose error (torso lengths)", "max_pose_error", "num", "max"],
    ["appearance", "looks unlike the visitor (0-1)", "max_appearance", "num", "max"],
    ["drift", "drifts over the video", "max_appearance_drift", "num", "max"],
    ["flicker", "flicker (grey levels)", "max_flicker", "num", "max"],
    ["held_out_ssim", "held-out SSIM", "min_held_out_ssim", "num", "min"],
  ];
  function fmtFigure(v, kind) {
    if (v === null || v === undefined) return "–";
    return kind === "pct" ? `${Math.round(100 * v)} %` : Number(v).toFixed(2);
  }
  function partsLine(parts) {
    return Object.entries(parts || {}).filter(([, v]) => v !== null)
      .map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(", ");
  }
  async function showChecks(id) {
    $("review-reasons").innerHTML = "";
    $("review-figures").innerHTML = "";
    $("review-strip-box").hidden = true;
    let c;
    try {
      c = await api("GET", `/api/renditions/${encodeURIComponent(id)}/checks`);
    } catch (err) {
      return; // the reason line above still says why it was held
    }
    if (reviewing !== id) return;
    $("review-reasons").innerHTML = c.reasons.map((r) => `<li>${esc(r)}</li>`).join("");
    if (c.reasons.length) $("review-why").textContent = `${c.reasons.length} reason${c.reasons.length > 1 ? "s" : ""}`;
    const rows = FIGURES.map(([key, label, limit, kind, dir]) => {
      const v = c.figures[key], lim = c.limits[limit];
      const over = v !== null && v !== undefined && (dir === "max" ? v > lim : v < lim);
      return `<tr><th>${esc(label)}</th><td class="${over ? "over" : ""}">${fmtFigure(v, kind)}</td>` +
        `<td class="muted">${dir} ${fmtFigure(lim, kind)}</td></tr>`;
    });
    if (partsLine(c.pose_parts)) rows.push(`<tr><th>pose error per part</th><td colspan="2">${esc(partsLine(c.pose_parts))}</td></tr>`);
    if (partsLine(c.look_parts)) rows.push(`<tr><th>unlike the visitor per part</th><td colspan="2">${esc(partsLine(c.look_parts))}</td></tr>`);
    if (c.checks_error) rows.push(`<tr><th>checks</th><td colspan="2">${esc(c.checks_error)}</td></tr>`);
    $("review-figures").innerHTML = rows.join("");
    if (c.strip) {
      $("review-strip").src = `/api/renditions/${encodeURIComponent(id)}/strip.jpg?t=${Date.now()}`;
      $("review-strip-box").hidden = false;
    }
  }
  function closeReview() {
    $("review-video").pause();
    $("review-video").removeAttribute("src");
    $("review").close();
    reviewing = null;
  }
  async function decide(decision) {
    showError($("review-error"), null);
    try {
      const res = await api("POST", `/api/renditions/${encodeURIComponent(reviewing)}/review`,
        { decision, reason: $("review-reason").value });
      if (res.mail && !["sent", "already_sent"].includes(res.mail)) {
        showError($("stage-error"), new Error(`approved; email ${res.mail}: ${res.detail}`));
      }
      closeReview();
    } catch (err) {
      showError($("review-error"), err);
    }
    await refresh();
  }
  $("review-approve").addEventListener("click", () => decide("approve"));
  $("review-retake").addEventListener("click", () => decide("retake"));
  $("review-reject").addEventListener("click", () => decide("reject"));
  $("review-close").addEventListener("click", closeReview);

  // Delete everything from this event: the plan (with its code), then the typed booth id.
  let erasePlan = null;
  async function openErase() {
    showError($("erase-error"), null);
    $("erase-done").hidden = true;
    $("erase-booth").value = "";
    $("erase-confirm").disabled = true;
    $("erase").showModal();
    try {
      erasePlan = await api("GET", "/api/booth/erasure");
      $("erase-plan").textContent = `${erasePlan.sessions} visitor sessions of booth ${erasePlan.booth}`
        + ` (${erasePlan.in_progress} in progress) and ${erasePlan.dead_letters} dead letters will be erased.`;
      $("erase-confirm").disabled = false;
    } catch (err) { showError($("erase-error"), err); }
  }
  async function confirmErase() {
    showError($("erase-error"), null);
    $("erase-confirm").disabled = true;
    try {
      const done = await api("POST", "/api/booth/erasure", { code: erasePlan.code, booth: $("erase-booth").value });
      const failed = Object.keys(done.failed).length;
      $("erase-done").textContent = `Erased ${done.sessions} sessions (${done.objects} files, ${done.dead_letters} dead letters)`
        + (failed ? `; ${failed} not finished: erase again.` : ".");
      $("erase-done").hidden = false;
      refresh();
    } catch (err) {
      showError($("erase-error"), err);
      $("erase-confirm").disabled = false;
    }
  }
  // The booth's own settings: the renditions' layout and the name on their intro card.
  async function loadSettings() {
    try {
      const s = await api("GET", "/api/booth/settings");
      $("layout").value = s.layout;
      $("capture-mode").value = s.capture_mode;
      $("booth-name").value = s.name;
      $("qa-auto-accept").checked = (await api("GET", "/api/booth/qa")).auto_accept;
    } catch (err) { showError($("settings-error"), err); }
  }
  $("qa-auto-accept").addEventListener("change", async () => {
    showError($("settings-error"), null);
    try {
      await api("PUT", "/api/booth/qa", { auto_accept: $("qa-auto-accept").checked });
    } catch (err) { showError($("settings-error"), err); }
  });
  $("settings-save").addEventListener("click", async () => {
    showError($("settings-error"), null);
    $("settings-saved").hidden = true;
    try {
      await api("PUT", "/api/booth/settings", {
        layout: $("layout").value, capture_mode: $("capture-mode").value, name: $("booth-name").value,
      });
      $("settings-saved").hidden = false;
    } catch (err) { showError($("settings-error"), err); }
  });
  loadSettings();
  $("erase-open").addEventListener("click", openErase);
  $("erase-confirm").addEventListener("click", confirmErase);
  $("erase-close").addEventListener("click", () => $("erase").close());
  $("call-next").addEventListener("click", async () => {
    showError($("stage-error"), null);
    try {
      current = (await api("POST", "/api/booth/next")).id;
    } catch (err) { showError($("stage-error"), err); }
    await refresh();
  });
  $("start-capture").addEventListener("click", async () => {
    showError($("stage-error"), null);
    try {
      const res = await api("POST", "/api/booth/capture", { session_id: current });
      countdownFrom = refreshes + 1;
      showCountdown(res.start_at, res.duration_s);
    } catch (err) { showError($("stage-error"), err); }
    await refresh();
  });
  $("retake").addEventListener("click", () => act("retake", current));
  $("mirror-booth").addEventListener("click", () => setMirror([]));
  $("mirror-body").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-mirror]");
    if (!btn) return;
    const sid = btn.dataset.id;
    const rest = mirror.wearers.filter((w) => w !== sid);
    setMirror(btn.dataset.mirror === "as" ? [sid] : btn.dataset.mirror === "add" ? [...rest, sid] : rest);
  });
  $("take-plate").addEventListener("click", () => takePlate(null));
  $("nodes").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-plate]");
    if (btn) takePlate(btn.dataset.plate);
  });
  $("queue-body").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-act]");
    if (btn) act(btn.dataset.act, btn.dataset.id, btn.dataset.job);
  });
  $("filters").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-filter]");
    if (btn) { filter = btn.dataset.filter; renderQueue(); }
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout");
    window.location.href = "/login";
  });
  const source = new EventSource("/api/events");
  ["session", "job", "node"].forEach((kind) => source.addEventListener(kind, refreshSoon));
  source.onopen = () => { $("live").className = "live on"; };
  source.onerror = () => { $("live").className = "live"; };
  refresh();
  setInterval(refresh, 10000); // node tiles go offline even when nothing changes
  setInterval(() => { // upload progress is not a row change: poll while frames arrive
    if (visitors.some((v) => ["capturing", "uploaded"].includes(v.state))) refresh();
  }, 2000);
  setInterval(() => { // live preview: the edge sends a skeleton JPEG about once a second
    document.querySelectorAll(".node.online img").forEach((img) => {
      img.src = img.src.replace(/t=\d+/, "t=" + Date.now());
    });
  }, 1000);
})();
