from django.urls import path

from . import views

app_name = "sso"

urlpatterns = [
    path("connexion/", views.ConnexionProConnect.as_view(), name="connexion"),
    path("retour/", views.RetourProConnect.as_view(), name="retour"),
    path("deconnecte/", views.deconnecte, name="deconnecte"),
]
