"""The base of every form shown in the État design system (the heads' pages, and the motive form
the admin shares with them): labels, hints and errors tied to their fields (aria-describedby)."""

from functools import cache

from dsfr.forms import DsfrBaseForm as _DsfrBaseForm
from dsfr.forms import DsfrDjangoTemplates


@cache
def _dsfr_renderer() -> DsfrDjangoTemplates:
    return DsfrDjangoTemplates()


class DsfrBaseForm(_DsfrBaseForm):
    """django-dsfr's form, rendered by one renderer for the whole process: its `default_renderer` is
    the renderer's class, so that each form made its own template engine and parsed every field's
    template again (a quarter of the partner search's time)."""

    @property
    def default_renderer(self):
        renderer = super().default_renderer
        return _dsfr_renderer() if renderer is DsfrDjangoTemplates else renderer
