// The access tokens page (villages/people). A file of its own: the site's Content-Security-Policy
// allows no inline script.
//
// The copy button of a new token's secret (shown once): hidden until this script runs, since
// without it the secret is selected and copied by hand.
//
// Revoking stops a token at once. The form has a box to tick; the server refuses the POST
// without it. Where this script runs, a dialog asks instead and ticks the box when the user
// agrees (as static/js/bulletin_issue.js does for issuing).
(function () {
  "use strict";

  function copied(button, ok) {
    var result = button.parentNode.querySelector(".copy-result");
    if (result) result.textContent = ok ? button.dataset.copied : button.dataset.copyFailed;
  }

  function copyByHand(source) {
    // Older browsers, or a page not served over HTTPS (no navigator.clipboard there).
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, true); },
          function () { copied(button, copyByHand(source)); }
        );
      } else {
        copied(button, copyByHand(source));
      }
    });
  });

  document.querySelectorAll("form.revoke-form[data-confirm]").forEach(function (form) {
    var box = form.querySelector("input[name=confirm]");
    if (!box) return;
    box.required = false; // the dialog asks instead of the browser's "tick this box"
    form.addEventListener("submit", function (event) {
      if (box.checked) return;
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      box.checked = true;
    });
  });

  // One token per form: a second click while the first POST is on its way sends nothing.
  document.querySelectorAll("form.token-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") event.preventDefault();
      form.dataset.sent = "1";
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.token-form").forEach(function (form) {
      form.dataset.sent = "";
    });
  });
})();
