from django.shortcuts import render

from bmp.models import Campagne


def home(request):
    return render(request, "home.html", {"campagne": Campagne.objects.order_by("-annee").first(), "title": "Accueil"})
