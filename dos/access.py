"""Who may open the DOS workspace's pages: an active superuser or an agent of a service."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from jumelages import perimetres


def reserve_aux_gestionnaires(view):
    """Login required; anybody but an agent or a superuser gets a 403 in French."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not perimetres.is_manager(request.user):
            return render(request, "dos/refuse.html", {"title": "Accès réservé"}, status=403)
        return view(request, *args, **kwargs)

    return wrapper
