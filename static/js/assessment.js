// "Suggest the village I am in": reloads the page with the phone's position, for which the
// server looks up the village (villages.lookup). Without GPS the list is there to choose from.
(function () {
  "use strict";
  var link = document.getElementById("use-gps");
  if (!link || !navigator.geolocation) return;
  link.addEventListener("click", function (event) {
    event.preventDefault();
    link.textContent = link.dataset.busy;
    navigator.geolocation.getCurrentPosition(function (position) {
      var c = position.coords;
      window.location.search = "?lat=" + c.latitude.toFixed(6) + "&lng=" + c.longitude.toFixed(6);
    }, function () { window.location.search = ""; }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
