"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const error = document.getElementById("login-error");
  try {
    await api("POST", "/api/auth/login", { name: form.name.value, password: form.password.value });
    window.location.href = "/operator";
  } catch (err) {
    showError(error, err);
  }
});
