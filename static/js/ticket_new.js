// Offer only the chosen town's villages. Without this script every village is listed and the
// server still refuses a village of another town.
(function () {
  "use strict";
  var town = document.getElementById("id_town");
  var village = document.getElementById("id_village");
  if (!town || !village) return;
  function narrow() {
    Array.prototype.forEach.call(village.options, function (option) {
      var other = option.dataset.town && option.dataset.town !== town.value;
      option.hidden = Boolean(other && town.value);
      option.disabled = Boolean(other && town.value);
    });
    var chosen = village.options[village.selectedIndex];
    if (chosen && chosen.disabled) village.value = "";
  }
  town.addEventListener("change", narrow);
  narrow();
})();
