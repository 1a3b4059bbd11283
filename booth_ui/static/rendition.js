"use strict";
document.getElementById("delete-button").addEventListener("click", async (ev) => {
  if (!window.confirm("Delete your frames, model, video and email address now?")) return;
  const token = ev.target.dataset.token;
  try {
    await api("POST", `/r/${encodeURIComponent(token)}/delete`);
    document.getElementById("video-card").hidden = true;
    document.getElementById("delete").hidden = true;
    document.getElementById("deleted").hidden = false;
  } catch (err) {
    showError(document.getElementById("delete-error"), err);
  }
});
