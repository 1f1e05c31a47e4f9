/* Tableau de bord des services : les parts d'heures jumelées en graphiques (Chart.js).
   Les chiffres viennent de la page (json_script) ; les tableaux à côté donnent les mêmes. */
(function () {
  "use strict";
  var nombre = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 2 });

  function graphique(id, donnees) {
    var canvas = document.getElementById(id);
    if (!canvas || !donnees || !donnees.libelles.length) {
      return;
    }
    canvas.parentNode.style.height = (4 + 2.5 * donnees.libelles.length) + "rem";
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: donnees.libelles,
        datasets: [{
          label: "Part des heures jumelées",
          data: donnees.parts,
          backgroundColor: "#000091",
          borderColor: "#000091"
        }]
      },
      options: {
        indexAxis: "y",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: {
            min: 0,
            max: 100,
            ticks: { callback: function (valeur) { return nombre.format(valeur) + " %"; } }
          }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) { return donnees.noms[items[0].dataIndex]; },
              label: function (item) {
                var i = item.dataIndex;
                var part = donnees.parts[i] === null ? "—" : nombre.format(donnees.parts[i]) + " %";
                return part + " (" + nombre.format(donnees.heures_jumelees[i]) + " h jumelées sur " +
                  nombre.format(donnees.heures[i]) + " h)";
              }
            }
          }
        }
      }
    });
  }

  function start() {
    var source = document.getElementById("tableau-donnees");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var donnees = JSON.parse(source.textContent);
    graphique("graphique-disciplines", donnees.disciplines);
    graphique("graphique-departements", donnees.departements);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
