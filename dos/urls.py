"""The DOS workspace outside the admin (issue 7): the campaign dashboard and the exports."""

from django.urls import path

from . import views_exports, views_tableau

app_name = "dos"

urlpatterns: list = [
    path("tableau-de-bord/", views_tableau.tableau_de_bord, name="tableau_de_bord"),
]

# The exports (dos.views_exports): /dos/exports/ and /dos/exports/<jumelages|bmp-non-jumeles>.<csv|xlsx>
urlpatterns += [
    path("exports/", views_exports.liste, name="exports"),
    path("exports/<slug:quoi>.<str:format>", views_exports.export, name="export"),
]
