from .provider import sso_enabled


def sso(request):
    """`proconnect`: whether the login page offers the ProConnect button (sso/bouton_proconnect.html)."""
    return {"proconnect": sso_enabled()}
