"use strict";
(function () {
  const form = document.getElementById("register-form");
  const error = document.getElementById("register-error");
  const card = document.getElementById("register-card");
  const done = document.getElementById("confirmation");
  form.addEventListener("input", () => showError(error, null));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const email = form.email.value.trim();
    if (!form.email.checkValidity() || !email) {
      return showError(error, new Error("Please enter a valid email address."));
    }
    if (!form.consent.checked) {
      return showError(error, new Error("Please tick the consent box to take part."));
    }
    showError(error, null);
    try {
      const res = await api("POST", "/api/visitors", { email, consent: true });
      document.getElementById("confirm-email").textContent = email;
      document.getElementById("confirm-position").textContent =
        res.position ? `${res.position} ${res.position === 1 ? "person is" : "people are"} ahead of you.`
                     : "You're next!";
      card.hidden = true;
      done.hidden = false;
    } catch (err) {
      showError(error, err);
    }
  });
  document.getElementById("register-another").addEventListener("click", () => {
    form.reset();
    done.hidden = true;
    card.hidden = false;
    form.email.focus();
  });
})();
