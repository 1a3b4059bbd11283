"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const error = document.getElementById("login-error");
  try {
    await api("POST", "/api/auth/login", { name: form.name.value, password: form.password.value });
    // Back to the page that asked for the login (the stage screen), else the dashboard.
    const next = new URLSearchParams(window.location.search).get("next");
    window.location.href = next && /^\/[a-z]/.test(next) ? next : "/operator";
  } catch (err) {
    showError(error, err);
  }
});
