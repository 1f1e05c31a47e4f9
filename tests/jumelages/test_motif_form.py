"""The one form of a refusal's or a deletion's motive, shared by the heads' pages and the admin."""

from jumelages.enums import Motif
from jumelages.forms import COMMENTAIRE_MAX, MotifForm


def test_the_pages_and_the_admin_use_the_same_motive_form():
    from jumelages import admin
    from web import views

    assert views.MotifForm is MotifForm and admin.MotifForm is MotifForm


def test_autre_needs_a_comment_in_the_workflows_own_words():
    form = MotifForm({"motif": Motif.AUTRE, "commentaire": "   "})
    assert not form.is_valid()
    assert form.errors["commentaire"] == ["Avec le motif « Autre », un commentaire est obligatoire."]


def test_a_comment_is_trimmed_and_a_motive_must_be_chosen():
    form = MotifForm({"motif": Motif.AUTRE, "commentaire": "  Trop loin. "})
    assert form.is_valid() and form.cleaned_data["commentaire"] == "Trop loin."
    assert "motif" in MotifForm({"motif": "", "commentaire": ""}).errors


def test_a_comment_too_long_is_refused_for_its_length_only():
    assert MotifForm({"motif": Motif.AUTRE, "commentaire": "x" * COMMENTAIRE_MAX}).is_valid()
    form = MotifForm({"motif": Motif.AUTRE, "commentaire": "x" * (COMMENTAIRE_MAX + 1)})
    assert not form.is_valid()
    assert len(form.errors["commentaire"]) == 1 and "au plus 2000 caractères" in form.errors["commentaire"][0]
