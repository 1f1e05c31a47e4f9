"""JUMO's URLs plus a trivial view, the yardstick of bench_pages.py (same server, same middleware)."""

from django.http import HttpResponse
from django.urls import path

from jumo.urls import urlpatterns as jumo_urlpatterns


def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial), *jumo_urlpatterns]
