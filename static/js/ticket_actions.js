// Forms with photos take a while on a rural network: a second tap must not send them twice.
// The submit button is not disabled (that would drop its name=value, e.g. the report's kind);
// a flag refuses further submits and the button says the form is being sent.
(function () {
  "use strict";
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      var button = event.submitter;
      if (button) {
        window.setTimeout(function () {
          button.classList.add("busy");
          button.textContent = form.dataset.busy;
        }, 0);
      }
    });
  });
  // Back-forward cache: a page shown again must accept a new submit.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.dataset.sent = "";
    });
  });
})();
