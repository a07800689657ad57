// Puts back into its form what a POST carried when the session had ended (the server kept it
// while the user logged in again: villages/people/interrupted.py), and says so above the form.
(function () {
  "use strict";
  var data = document.getElementById("kept-form");
  var note = document.getElementById("kept-form-note");
  if (!data || !note) return;
  var kept = JSON.parse(data.textContent);

  function actionOf(form) {
    return new URL(form.getAttribute("action") || location.href, location.href).pathname;
  }

  var form = Array.prototype.filter.call(document.querySelectorAll("form"), function (candidate) {
    return (candidate.getAttribute("method") || "").toLowerCase() === "post" &&
      actionOf(candidate) === kept.action;
  })[0];
  if (!form) return;

  // Values by name, in the order sent: a name used by several inputs gets them in turn.
  var values = {};
  kept.fields.forEach(function (pair) { (values[pair[0]] = values[pair[0]] || []).push(pair[1]); });
  Object.keys(values).forEach(function (name) {
    var list = values[name];
    var next = 0;
    Array.prototype.forEach.call(form.elements, function (input) {
      if (input.name !== name || input.type === "file" || input.type === "submit" || input.type === "button") return;
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = list.indexOf(input.value) !== -1;
      } else if (input.tagName === "SELECT" && input.multiple) {
        Array.prototype.forEach.call(input.options, function (option) {
          option.selected = list.indexOf(option.value) !== -1;
        });
      } else if (next < list.length) {
        input.value = list[next++];
      }
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  var files = note.querySelector("[data-files]");
  if (files && !kept.files) files.remove();
  note.hidden = false;
  form.parentNode.insertBefore(note, form);
  for (var up = form.parentElement; up; up = up.parentElement) {
    if (up.tagName === "DETAILS") up.open = true;
  }
  note.scrollIntoView({ block: "start" });
})();
