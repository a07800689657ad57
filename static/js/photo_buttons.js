// A photo field as two big buttons, 拍照 and 相册: an <input capture> opens only the camera on
// Android, so a photo taken earlier (no signal at the pond) could not be attached. 拍照 opens the
// camera, 相册 the phone's pictures (the same input without `capture`). The inputs stay in the
// form (what is sent, and what patrol.js multiplies one shot at a time), only out of sight.
(function () {
  "use strict";
  var strings = document.getElementById("field-strings");
  if (!strings) return;
  var done = {};
  document.querySelectorAll("input[type=file][capture]").forEach(function (input) {
    var form = input.form;
    var group = (form && (form.id || form.getAttribute("action"))) + "|" + input.name;
    if (!form || done[group]) return;
    done[group] = true;
    form.classList.add("photo-picker");
    var bar = document.createElement("div");
    bar.className = "photo-buttons";
    var count = document.createElement("span");
    count.className = "photo-count muted";
    [["camera", strings.dataset.camera, true], ["album", strings.dataset.album, false]]
      .forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button big photo-" + spec[0];
        button.textContent = spec[1];
        button.addEventListener("click", function () { open(form, input.name, spec[2]); });
        bar.appendChild(button);
      });
    bar.appendChild(count);
    input.parentNode.insertBefore(bar, input);
    form.addEventListener("change", function () { counted(form, input.name, count); });
  });

  function empty(form, name) {
    return Array.prototype.filter.call(
      form.querySelectorAll("input[type=file][name='" + name + "']"),
      function (input) { return !input.files || !input.files.length; })[0] ||
      form.querySelector("input[type=file][name='" + name + "']");
  }

  function open(form, name, camera) {
    var input = empty(form, name);
    if (!input) return;
    if (camera) input.setAttribute("capture", "environment");
    else input.removeAttribute("capture");
    input.click();
  }

  function counted(form, name, count) {
    var n = 0;
    form.querySelectorAll("input[type=file][name='" + name + "']").forEach(function (input) {
      n += input.files ? input.files.length : 0;
    });
    count.textContent = n ? strings.dataset.chosen.replace("{n}", n) : "";
  }
})();
