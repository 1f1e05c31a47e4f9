from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.accueil, name="accueil"),
    path("connexion/", views.ConnexionView.as_view(), name="connexion"),
    path("deconnexion/", views.DeconnexionView.as_view(), name="deconnexion"),
    path("etablissement/", views.choisir_etablissement, name="choisir_etablissement"),
    path("bmp/<int:bmp_pk>/partenaires/", views.partenaires, name="partenaires"),
    path("bmp/<int:bmp_pk>/carte/", views.carte, name="carte"),
    path("bmp/<int:bmp_pk>/proposer/<int:cible_pk>/", views.proposer, name="proposer"),
    path("demandes/", views.demandes, name="demandes"),
    path("demandes/<int:demande_pk>/", views.demande, name="demande"),
    path("demandes/<int:demande_pk>/accepter/", views.accepter, name="accepter"),
    path("demandes/<int:demande_pk>/refuser/", views.refuser, name="refuser"),
    path("demandes/<int:demande_pk>/annuler/", views.annuler, name="annuler"),
    path("jumelages/<int:jumelage_pk>/", views.jumelage, name="jumelage"),
    path("jumelages/<int:jumelage_pk>/supprimer/", views.supprimer_jumelage, name="supprimer_jumelage"),
    path("notifications/", views.liste_notifications, name="notifications"),
    path("notifications/lues/", views.notifications_lues, name="notifications_lues"),
    path("notifications/<int:notification_pk>/lue/", views.notification_lue, name="notification_lue"),
    path("accessibilite/", views.page("web/accessibilite.html", "Déclaration d'accessibilité"), name="accessibilite"),
    path("mentions-legales/", views.page("web/mentions_legales.html", "Mentions légales"), name="mentions_legales"),
    path(
        "donnees-personnelles/",
        views.page("web/donnees_personnelles.html", "Données personnelles et cookies"),
        name="donnees_personnelles",
    ),
    path("plan-du-site/", views.page("web/plan_du_site.html", "Plan du site"), name="plan_du_site"),
]
