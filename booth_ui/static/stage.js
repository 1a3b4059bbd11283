// The stage screen: the visitor's reference dance, mirrored, counted in (3-2-1) to the
// nodes' shared capture start, with the music; then capture QA's verdict.
//
// Timing: the screen keeps the API's clock (offset estimated from the poll with the
// shortest round trip, as NTP does) and starts the dance when that clock reaches the
// capture's start_at, the instant every node starts recording. The video and the
// music are re-seeked if they drift more than DRIFT_S from the elapsed capture time.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 500;
  const COUNT_IN_S = 3;
  const DRIFT_S = 0.08;
  const video = $("stage-video"), figure = $("stage-figure"), music = $("stage-music");
  let offset = 0, bestRtt = Infinity; // API clock minus this browser's clock, seconds
  let view = null, take = null; // take: the prepared capture (its key, dance, figure frames)
  // For tests and the booth engineer: when playback started, on the API's clock.
  const log = (window.stageLog = { playStart: null, key: null, counted: [], phases: [] });

  const apiNow = () => Date.now() / 1000 + offset;

  async function poll() {
    try {
      const t0 = Date.now();
      const v = await api("GET", "/api/booth/stage");
      const rtt = Date.now() - t0;
      // The API read its clock about halfway through the round trip.
      if (rtt <= bestRtt * 1.5 || rtt < 50) {
        if (rtt < bestRtt) bestRtt = rtt;
        offset = v.server_time - (t0 + rtt / 2) / 1000;
      }
      view = v;
      showError($("stage-error"), null);
      const key = v.session_id && v.start_at ? `${v.session_id}@${v.start_at}` : null;
      if (key && (!take || take.key !== key)) await prepare(key, v);
    } catch (err) {
      showError($("stage-error"), err);
    }
  }

  async function prepare(key, v) {
    stopMedia();
    take = { key, dance: v.dance, frames: null, started: false };
    log.key = key;
    log.playStart = null;
    const d = v.dance;
    if (!d) return;
    if (d.video) {
      video.src = d.video;
      video.hidden = false;
      figure.hidden = true;
    } else {
      video.hidden = true;
      video.removeAttribute("src");
      figure.hidden = false;
      const res = await fetch(d.keypoints, { credentials: "same-origin" });
      if (!res.ok) throw new Error(`the dance's keypoints did not load (${res.status})`);
      take.frames = Skeleton.parse(await res.text());
      Skeleton.draw(figure, take.frames[0], d.width, d.height, 0.5);
    }
    if (d.music) music.src = d.music;
    else music.removeAttribute("src");
  }

  function stopMedia() {
    video.pause();
    music.pause();
  }

  function seek(el, t) {
    if (!el.src) return;
    if (Math.abs(el.currentTime - t) > DRIFT_S) el.currentTime = t;
    if (el.paused) {
      el.play().catch(() => { if (el === music) $("stage-unmute").hidden = false; });
    }
  }

  function setPhase(phase) {
    if (document.body.dataset.phase === phase) return;
    document.body.dataset.phase = phase;
    log.phases.push([phase, apiNow()]);
  }

  function show(title, count, reasons) {
    $("stage-title").textContent = title;
    $("stage-count").hidden = count === null;
    if (count !== null) $("stage-count").textContent = count;
    const list = $("stage-reasons");
    list.hidden = !reasons || reasons.length === 0;
    list.innerHTML = "";
    (reasons || []).forEach((r) => {
      const li = document.createElement("li");
      li.textContent = r;
      list.appendChild(li);
    });
  }

  function frame() {
    requestAnimationFrame(frame);
    if (!view || !take || !view.start_at) {
      setPhase("idle");
      show("Waiting for the next dancer", null, null);
      return;
    }
    const d = take.dance;
    const elapsed = apiNow() - view.start_at;
    const length = view.duration_s || 0;
    if (elapsed < -COUNT_IN_S) {
      setPhase("ready");
      show(d ? `Get ready: ${d.title}` : "Get ready", null, null);
    } else if (elapsed < 0) {
      const n = Math.ceil(-elapsed);
      setPhase("countin");
      if (log.counted[log.counted.length - 1] !== n) log.counted.push(n);
      show(d ? d.title : "", String(n), null);
    } else if (elapsed < length) {
      setPhase("dancing");
      if (!take.started) {
        take.started = true;
        log.playStart = apiNow();
      }
      show("", null, null);
      if (d && d.video) seek(video, elapsed);
      if (d && d.music) seek(music, elapsed);
      if (d && take.frames) {
        const i = Math.min(take.frames.length - 1, Math.floor(elapsed * d.fps));
        Skeleton.draw(figure, take.frames[i], d.width, d.height, 0.5);
        figure.dataset.frame = String(i);
      }
    } else {
      if (take.started) { stopMedia(); take.started = false; }
      if (view.qa_passed === null || view.qa_passed === undefined) {
        setPhase("checking");
        show("Thanks! Checking your dance…", null, null);
      } else if (view.qa_passed || view.retake_reasons.length === 0) {
        setPhase("passed");
        show("Great dancing! Your video is on its way.", null, null);
      } else {
        setPhase("retake");
        show("Let's dance once more:", null, view.retake_reasons);
      }
    }
  }

  $("stage-unmute").addEventListener("click", () => {
    $("stage-unmute").hidden = true;
    music.play().catch(() => {});
  });
  poll();
  setInterval(poll, POLL_MS);
  requestAnimationFrame(frame);
  window.stageClock = { apiNow, video, music, figure };
})();
