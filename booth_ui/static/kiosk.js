"use strict";
(function () {
  const form = document.getElementById("register-form");
  const error = document.getElementById("register-error");
  const card = document.getElementById("register-card");
  const done = document.getElementById("confirmation");
  const choice = document.getElementById("dance-choice");
  let offered = [];
  // More than one dance enabled at the booth: the visitor picks; else the booth assigns.
  async function loadDances() {
    try {
      const res = await api("GET", "/api/kiosk/dances");
      offered = res.dances;
      choice.hidden = !res.choose;
      document.getElementById("dance-options").innerHTML = res.choose ? offered.map((d, i) => {
        const secs = d.duration_s ? `<small>${Math.round(d.duration_s)} s</small>` : "";
        const id = `dance-${i}`;
        return `<label class="dance-option" for="${id}"><input type="radio" name="dance" id="${id}" value="${d.name.replace(/"/g, "")}"><span>${d.title.replace(/[&<>"']/g, "")}${secs}</span></label>`;
      }).join("") : "";
    } catch (err) {
      choice.hidden = true; // registration still works: the booth assigns a dance
    }
  }
  loadDances();
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
    const picked = form.querySelector("input[name=dance]:checked");
    if (!choice.hidden && !picked) {
      return showError(error, new Error("Please pick the dance you want to perform."));
    }
    showError(error, null);
    try {
      const body = { email, consent: true, mirror_consent: form.mirror_consent.checked };
      if (picked) body.dance = picked.value;
      const res = await api("POST", "/api/visitors", body);
      const chosen = picked && offered.find((d) => d.name === picked.value);
      document.getElementById("confirm-dance").hidden = !chosen;
      document.getElementById("confirm-dance").textContent = chosen ? `Your dance: ${chosen.title}` : "";
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
    loadDances();
    done.hidden = true;
    card.hidden = false;
    form.email.focus();
  });
})();
