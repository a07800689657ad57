// Narrow the household list while typing, without a round trip; Enter still searches on the
// server (which also finds households beyond the ones listed).
(function () {
  "use strict";
  var input = document.getElementById("household-filter");
  var list = document.getElementById("household-list");
  if (!input || !list) return;
  input.addEventListener("input", function () {
    var text = input.value.trim().toLowerCase();
    list.querySelectorAll("li[data-search]").forEach(function (item) {
      item.hidden = text !== "" && item.dataset.search.toLowerCase().indexOf(text) === -1;
    });
  });
})();
