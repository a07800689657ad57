// Issuing a bulletin cannot be undone. The form has a checkbox stating the number and the item
// count the issue will have; the server refuses the POST without it. Where this script runs, a
// dialog with the same sentence asks instead, and ticks the box when the user agrees. A box the
// user ticked himself needs no second question (and works where dialogs are blocked).
(function () {
  "use strict";
  document.querySelectorAll("form.issue-form[data-confirm]").forEach(function (form) {
    var box = form.querySelector("input[name=confirm]");
    if (!box) return;
    box.required = false; // the dialog asks instead of the browser's "tick this box"
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") {
        event.preventDefault(); // a second click while the first issue is on its way
        return;
      }
      if (!box.checked) {
        if (!window.confirm(form.dataset.confirm)) {
          event.preventDefault();
          return;
        }
        box.checked = true;
      }
      form.dataset.sent = "1";
    });
  });
  // Back-forward cache: a page shown again must accept a new submit.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.issue-form").forEach(function (form) {
      form.dataset.sent = "";
    });
  });
})();
