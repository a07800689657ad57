// A role form's village list shows the chosen town's villages only (the select groups them by
// town); without a town, all. Without this script the whole grouped list works the same.
(function () {
  document.querySelectorAll("form.role-form").forEach(function (form) {
    var town = form.querySelector("select[name=town]");
    var village = form.querySelector("select[name=village]");
    if (!town || !village) return;
    function narrow() {
      var chosen = town.selectedIndex > 0 ? town.options[town.selectedIndex].text : "";
      village.querySelectorAll("optgroup").forEach(function (group) {
        var shown = !chosen || group.label === chosen;
        group.hidden = !shown;
        group.disabled = !shown;
        if (!shown && group.contains(village.selectedOptions[0])) village.value = "";
      });
    }
    town.addEventListener("change", narrow);
    narrow();
  });
})();
