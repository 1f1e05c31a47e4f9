"""Receivers of other apps' signals; connected in JumelagesConfig.ready."""

from . import services


def on_bmps_refreshed(sender, *, campagne, changed, withdrawn, restored, touched, **kwargs):
    """The nightly refresh wrote the BMPs (inside its transaction): apply its effects on the workflow."""
    services.apply_refresh(campagne, changed=changed, withdrawn=withdrawn, restored=restored, touched=touched)
