/* Countdowns: every element with data-echeance (an ISO date) shows the time left, each minute.
   The server already wrote it; this only keeps it current. */
(function () {
  "use strict";
  function texte(ms) {
    if (ms <= 0) {
      return "échue";
    }
    var minutes = Math.floor(ms / 60000);
    var jours = Math.floor(minutes / 1440);
    var heures = Math.floor((minutes % 1440) / 60);
    minutes = minutes % 60;
    if (jours) {
      return "reste " + jours + " j " + heures + " h";
    }
    if (heures) {
      return "reste " + heures + " h " + (minutes < 10 ? "0" : "") + minutes + " min";
    }
    return minutes ? "reste " + minutes + " min" : "reste moins d'une minute";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-echeance]").forEach(function (element) {
      var echeance = Date.parse(element.getAttribute("data-echeance"));
      if (!isNaN(echeance)) {
        element.textContent = texte(echeance - now);
      }
    });
  }
  setInterval(tick, 60000);
})();
