"""« Actualiser les BMP » in the admin (issue 7): a dry run shows what the file would change, the
confirmation applies the same file; the runs and their errors are readable; only holders of
bmp.lancer_actualisation may upload."""

import csv
import datetime
import html
import io
import os
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bmp import services
from bmp.enums import StatutImport
from bmp.models import BMP, ImportRun
from bmp.services import refresh_bmps
from establishments.accounts import gestionnaires_group
from tests.factories import BMPFactory, EtablissementFactory

from .conftest import bmp_snapshot, make_csv

pytestmark = pytest.mark.django_db

ACTUALISER = "admin:bmp_importrun_actualiser"
CONFIRMER = "admin:bmp_importrun_confirmer"
LISTE = "admin:bmp_importrun_changelist"


@pytest.fixture(autouse=True)
def pending_dir(settings, tmp_path):
    """Uploaded files wait for their confirmation here, not in the machine's /tmp."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path / "jumo-actualisations-bmp"


@pytest.fixture
def permission(db):
    """bmp.lancer_actualisation (ImportRun.Meta.permissions)."""
    return Permission.objects.get(content_type__app_label="bmp", codename="lancer_actualisation")


def staff_agent(user):
    """An agent as create_account makes one: staff, in the « Gestionnaires DOS » group."""
    user.is_staff = True
    user.save()
    user.groups.add(gestionnaires_group())
    return user


@pytest.fixture
def agent(w, permission):
    return staff_agent(w.agent94)


@pytest.fixture
def charge(w, permission):
    """The Rectorat's agent to whom a superuser granted the permission."""
    user = staff_agent(w.rectorat)
    user.user_permissions.add(permission)
    return user


@pytest.fixture
def superuser_client(client, w):
    client.force_login(w.superuser)
    return client


def row(bmp, heures=None, etablissement=None, code=None):
    return [
        bmp.identifiant,
        (etablissement or bmp.etablissement).uai,
        code or bmp.discipline.code,
        "",
        str(heures if heures is not None else bmp.heures).replace(".", ","),
    ]


def snapshot_file(w, **changes):
    """The file describing the académie's six BMPs, with `changes` (bmp name → row) and `extra` rows."""
    extra = changes.pop("extra", [])
    rows = []
    for name in ["bmp_a", "bmp_b", "bmp_c", "bmp_d", "bmp_e", "bmp_l"]:
        replacement = changes.get(name, row(getattr(w, name)))
        if replacement is not None:
            rows.append(replacement)
    return make_csv(rows + extra)


def upload(client, data, *, name="bmp.csv", campagne=None, forcer=False):
    payload = {"fichier": SimpleUploadedFile(name, data, content_type="text/csv")}
    if campagne is not None:
        payload["campagne"] = campagne.pk
    if forcer:
        payload["forcer"] = "on"
    return client.post(reverse(ACTUALISER), payload)


def jeton_of(response) -> str:
    assert response.context["confirmation"] is not None, response.context["result"].error_lines()
    return response.context["confirmation"].initial["jeton"]


def confirm(client, response_or_jeton):
    jeton = response_or_jeton if isinstance(response_or_jeton, str) else jeton_of(response_or_jeton)
    return client.post(reverse(CONFIRMER), {"jeton": jeton})


def page_of(response) -> str:
    """The page's text, entities decoded (Django escapes apostrophes)."""
    return html.unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def changes_file(w):
    """One change of each kind: hours, new, withdrawn, restored, moved to another school."""
    retired = BMPFactory(
        campagne=w.campagne, etablissement=w.D, discipline=w.eps, heures=Decimal("4"), identifiant="BMP-RETIRE"
    )
    retired.actif = False
    retired.save()
    return snapshot_file(
        w,
        bmp_a=row(w.bmp_a, heures="11"),  # 9 → 11 h
        bmp_c=row(w.bmp_c, etablissement=w.D),  # moves from C to D
        bmp_e=None,  # withdrawn
        extra=[
            ["BMP-NOUVEAU", w.B.uai, "L1900", "", "3,5"],
            ["BMP-RETIRE", w.D.uai, "L1900", "", "5"],  # restored with 5 h
        ],
    )


# --- The dry run --------------------------------------------------------------------------------


def test_the_runs_list_offers_the_refresh_to_a_superuser(superuser_client):
    page = page_of(superuser_client.get(reverse(LISTE)))
    assert "Actualiser les BMP" in page and reverse(ACTUALISER) in page
    form = superuser_client.get(reverse(ACTUALISER))
    assert form.status_code == 200
    assert form.context["form"].initial["campagne"].annee == 2024
    assert "Forcer (plus de 20 % de retraits)" in page_of(form)


def test_the_campaign_proposed_is_the_latest(superuser_client, w):
    from tests.factories import CampagneFactory

    CampagneFactory(annee=2025)
    form = superuser_client.get(reverse(ACTUALISER)).context["form"]
    assert form.initial["campagne"].annee == 2025


def test_dry_run_shows_each_change_and_writes_nothing(superuser_client, w, changes_file):
    before = bmp_snapshot()
    response = upload(superuser_client, changes_file, campagne=w.campagne)
    assert response.status_code == 200
    page = page_of(response)

    assert bmp_snapshot() == before
    assert "Essai à blanc : ce que ce fichier changerait" in page
    assert "Changements prévus : ajoutés : 1 ; modifiés : 2 ; retirés : 1 ; restaurés : 1 ; inchangés : 3." in page
    details = response.context["result"].details
    assert [(c.identifiant, c.anciennes_heures, c.heures) for c in details["ajoutes"]] == [
        ("BMP-NOUVEAU", None, Decimal("3.5"))
    ]
    assert {(c.identifiant, c.uai, c.anciennes_heures, c.heures, c.avant) for c in details["modifies"]} == {
        (w.bmp_a.identifiant, w.A.uai, Decimal("9"), Decimal("11"), ""),
        (w.bmp_c.identifiant, w.D.uai, Decimal("6"), Decimal("6"), f"{w.C.uai}, L1300"),
    }
    assert [(c.identifiant, c.etablissement, c.anciennes_heures) for c in details["retires"]] == [
        (w.bmp_e.identifiant, "Collège E", Decimal("5"))
    ]
    assert [(c.identifiant, c.anciennes_heures, c.heures) for c in details["restaures"]] == [
        ("BMP-RETIRE", Decimal("4"), Decimal("5"))
    ]
    for text in [
        "Ajoutés : 1",
        "Modifiés : 2",
        "Retirés : 1",
        "Restaurés : 1",
        "BMP-NOUVEAU",
        w.bmp_e.identifiant,
        "Collège E",
        "9 h → 11 h",
        "3,5 h",
        "l'ancien BMP sera retiré et remplacé",
        "Confirmer l'actualisation",
        response.context["result"].sha256,
    ]:
        assert text in page, text

    run = ImportRun.objects.get()
    assert (run.statut, run.dry_run, run.lance_par, run.utilisateur, run.fichier) == (
        StatutImport.A_BLANC,
        True,
        "admin",
        w.superuser,
        "bmp.csv",
    )


def test_a_file_changing_nothing_offers_nothing_to_confirm(superuser_client, w):
    response = upload(superuser_client, snapshot_file(w), campagne=w.campagne)
    page = page_of(response)
    assert "Aucun changement : les 6 BMP du fichier sont déjà à jour." in page
    assert response.context["confirmation"] is None and "Rien à appliquer." in page


# --- The confirmation ---------------------------------------------------------------------------


def test_confirmation_applies_the_same_file_and_records_the_run(superuser_client, w, changes_file):
    dry_run = upload(superuser_client, changes_file, campagne=w.campagne)
    response = confirm(superuser_client, dry_run)

    run = ImportRun.objects.get(dry_run=False)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bmp_importrun_change", args=[run.pk])
    assert (run.statut, run.lance_par, run.utilisateur, run.sha256) == (
        StatutImport.APPLIQUE,
        "admin",
        w.superuser,
        dry_run.context["result"].sha256,
    )
    assert (run.ajoutes, run.modifies, run.retires, run.restaures, run.inchanges) == (1, 2, 1, 1, 3)
    assert "Actualisation des BMP appliquée (campagne 2024, fichier « bmp.csv »)." in messages_of(response)[-1]
    w.bmp_a.refresh_from_db()
    w.bmp_e.refresh_from_db()
    assert w.bmp_a.heures == Decimal("11") and w.bmp_e.actif is False
    assert BMP.objects.get(identifiant="BMP-NOUVEAU").etablissement == w.B
    assert BMP.objects.get(identifiant="BMP-RETIRE").actif is True
    assert BMP.objects.courants().get(identifiant=w.bmp_c.identifiant).etablissement == w.D


def test_a_second_confirmation_of_the_same_file_changes_nothing_and_says_so(superuser_client, w, changes_file):
    jeton = jeton_of(upload(superuser_client, changes_file, campagne=w.campagne))
    confirm(superuser_client, jeton)
    after_first = bmp_snapshot()
    again = confirm(superuser_client, jeton)
    assert again.status_code == 302
    assert bmp_snapshot() == after_first
    assert "Aucun changement : les 7 BMP du fichier sont déjà à jour." in messages_of(again)[-1]
    assert ImportRun.objects.filter(dry_run=False, statut=StatutImport.APPLIQUE).count() == 2


def test_confirmation_validates_the_file_again(superuser_client, w):
    """The database may change between the dry run and the confirmation: here the new BMP's school closes."""
    school = EtablissementFactory(nom="Collège fermé")
    data = snapshot_file(w, extra=[["BMP-NOUVEAU", school.uai, "L1300", "", "4"]])
    dry_run = upload(superuser_client, data, campagne=w.campagne)
    school.delete()
    before = bmp_snapshot()
    response = confirm(superuser_client, dry_run)
    assert response.status_code == 200
    assert bmp_snapshot() == before
    assert "Le fichier est refusé à l'application : rien n'a été modifié." in messages_of(response)
    assert f"Aucun établissement du référentiel ne porte l'UAI « {school.uai} »." in page_of(response)
    assert ImportRun.objects.filter(dry_run=False).get().statut == StatutImport.REJETE


def test_tampered_confirmation_is_refused(superuser_client, w, changes_file):
    jeton = jeton_of(upload(superuser_client, changes_file, campagne=w.campagne))
    before = bmp_snapshot()
    payload = {"u": w.superuser.pk, "sha256": "0" * 64, "fichier": "x.csv", "campagne": w.campagne.pk, "forcer": True}
    forged = signing.dumps(payload, salt="une autre")
    altered = jeton[:-1] + ("A" if jeton[-1] != "A" else "B")
    for bad in [forged, altered, "", "nimportequoi"]:
        response = confirm(superuser_client, bad)
        assert response.status_code == 302 and response["Location"] == reverse(ACTUALISER)
        assert any("n'est pas valide" in m or "obligatoire" in m for m in messages_of(response)), messages_of(response)
    assert bmp_snapshot() == before
    assert not ImportRun.objects.filter(dry_run=False).exists()


def test_expired_confirmation_is_refused(superuser_client, w, changes_file, time_machine):
    time_machine.move_to(datetime.datetime(2024, 6, 20, 10, 0, tzinfo=datetime.UTC), tick=False)
    jeton = jeton_of(upload(superuser_client, changes_file, campagne=w.campagne))
    before = bmp_snapshot()
    time_machine.move_to(datetime.datetime(2024, 6, 20, 10, 31, tzinfo=datetime.UTC), tick=False)
    response = confirm(superuser_client, jeton)
    assert response.status_code == 302
    assert "Cette confirmation a expiré (plus de 30 minutes après l'essai à blanc)" in messages_of(response)[-1]
    assert bmp_snapshot() == before


def test_a_file_changed_on_the_server_since_the_dry_run_is_refused(superuser_client, w, changes_file, pending_dir):
    jeton = jeton_of(upload(superuser_client, changes_file, campagne=w.campagne))
    (stored,) = pending_dir.iterdir()
    stored.write_bytes(snapshot_file(w, bmp_a=None, bmp_b=None, bmp_c=None))
    before = bmp_snapshot()
    response = confirm(superuser_client, jeton)
    assert "a changé (empreinte SHA-256 différente)" in messages_of(response)[-1]
    assert bmp_snapshot() == before
    assert not stored.exists()
    # Gone (expired and purged, or another server): upload again.
    response = confirm(superuser_client, jeton)
    assert "n'est plus disponible sur le serveur" in messages_of(response)[-1]
    assert not ImportRun.objects.filter(dry_run=False).exists()


def test_a_confirmation_is_only_for_the_user_who_ran_the_dry_run(client, superuser_client, w, changes_file, charge):
    jeton = jeton_of(upload(superuser_client, changes_file, campagne=w.campagne))
    client.force_login(charge)
    response = confirm(client, jeton)
    assert "préparée pour un autre utilisateur" in messages_of(response)[-1]
    assert not ImportRun.objects.filter(dry_run=False).exists()


def test_confirm_only_answers_post(superuser_client):
    response = superuser_client.get(reverse(CONFIRMER))
    assert response.status_code == 302 and response["Location"] == reverse(ACTUALISER)


# --- Refused files --------------------------------------------------------------------------------


def test_invalid_file_lists_every_error_in_french_and_changes_nothing(superuser_client, w):
    data = snapshot_file(
        w,
        bmp_a=row(w.bmp_a, heures="abc"),
        bmp_b=[w.bmp_b.identifiant, "0000000B", "L1300", "", "4"],
        bmp_c=row(w.bmp_c, code="L9999"),
        extra=[row(w.bmp_d, heures="40")],
    )
    before = bmp_snapshot()
    response = upload(superuser_client, data, campagne=w.campagne)
    page = page_of(response)
    assert bmp_snapshot() == before
    assert "Fichier refusé : rien n'a été modifié" in page and "5 erreurs" in page
    errors = response.context["result"].errors
    assert [(e.line, e.column) for e in errors] == [
        (2, "heures"),
        (3, "uai"),
        (4, "discipline"),
        (8, "identifiant"),
        (8, "heures"),
    ]
    for text in [
        "<td>2</td><td>heures</td><td>abc</td><td>Heures invalides : la valeur n'est pas un nombre décimal",
        "<td>3</td><td>uai</td><td>0000000B</td><td>L'UAI « 0000000B » a une lettre clé erronée",
        "<td>4</td><td>discipline</td><td>L9999</td><td>Discipline « L9999 » inconnue",
        f"<td>8</td><td>identifiant</td><td>{w.bmp_d.identifiant}</td><td>Identifiant en double : il figure",
        "<td>8</td><td>heures</td><td>40</td><td>Les heures d'un BMP ne peuvent pas dépasser 36 h par semaine.",
    ]:
        assert text in page, text
    assert response.context["confirmation"] is None and "Confirmer l'actualisation" not in page
    assert ImportRun.objects.get().statut == StatutImport.REJETE


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bmp.xlsx", b"identifiant;uai\n", "n'a pas l'extension attendue (.csv, .txt)"),
        ("bmp.csv", b"PK\x03\x04 classeur", "une archive ou un classeur (xlsx, ods, zip), pas un fichier texte"),
        ("bmp.csv", b"id\x00\x00\x00", "n'est pas un fichier texte"),
    ],
)
def test_wrong_extension_or_binary_file_is_refused_before_reading(superuser_client, w, name, data, message):
    response = upload(superuser_client, data, name=name, campagne=w.campagne)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["fichier"])
    assert response.context["result"] is None
    assert not ImportRun.objects.exists()


def test_too_large_file_is_refused(superuser_client, w, settings):
    settings.JUMO_UPLOAD_MAX_BYTES = 100
    response = upload(superuser_client, snapshot_file(w), campagne=w.campagne)
    assert "la limite est de" in " ".join(response.context["form"].errors["fichier"])
    assert not ImportRun.objects.exists()


def test_withdrawing_more_than_20_percent_needs_forcer(superuser_client, w):
    data = snapshot_file(w, bmp_a=None, bmp_b=None)  # 2 of 6 active BMPs: 33 %
    before = bmp_snapshot()
    refused = upload(superuser_client, data, campagne=w.campagne)
    page = page_of(refused)
    assert "Ce fichier retirerait 2 des 6 BMP actifs de la campagne 2024 (33,3 %)" in page
    assert "case « Forcer »" in page
    assert refused.context["confirmation"] is None
    assert "Retirés : 2" in page  # what would go, to check the export
    assert ImportRun.objects.get().statut == StatutImport.REJETE

    forced = upload(superuser_client, data, campagne=w.campagne, forcer=True)
    assert "Changements prévus : ajoutés : 0 ; modifiés : 0 ; retirés : 2" in page_of(forced)
    assert bmp_snapshot() == before
    confirm(superuser_client, forced)
    run = ImportRun.objects.get(dry_run=False)
    assert (run.statut, run.force, run.retires) == (StatutImport.APPLIQUE, True, 2)
    assert BMP.objects.filter(actif=False).count() == 2


def test_dry_run_lists_the_first_200_of_each_kind_and_counts_them_all(superuser_client, w):
    extra = [[f"BMP-N{n:04d}", w.A.uai, "L1300", "", "2"] for n in range(205)]
    response = upload(superuser_client, snapshot_file(w, extra=extra), campagne=w.campagne)
    result = response.context["result"]
    assert result.ajoutes == 205 and len(result.details["ajoutes"]) == services.DETAIL_LIMIT == 200
    assert "Ajoutés : 205 (les 200 premiers)" in page_of(response)


# --- Who may do it ------------------------------------------------------------------------------


def test_the_dos_group_does_not_get_the_permission(agent, permission):
    assert permission not in gestionnaires_group().permissions.all()
    assert gestionnaires_group().permissions.filter(codename="view_importrun").exists()
    assert not agent.has_perm("bmp.lancer_actualisation")


def test_an_agent_without_the_permission_reads_the_runs_but_cannot_refresh(client, w, agent, changes_file):
    refresh_bmps(w.campagne, snapshot_file(w), filename="nuit.csv", started_by="tâche planifiée")
    client.force_login(agent)
    listing = client.get(reverse(LISTE))
    assert listing.status_code == 200 and "nuit.csv" in page_of(listing)
    assert "Actualiser les BMP" not in page_of(listing)

    before = bmp_snapshot()
    assert client.get(reverse(ACTUALISER)).status_code == 403
    assert upload(client, changes_file, campagne=w.campagne).status_code == 403
    assert confirm(client, "nimportequoi").status_code == 403
    assert bmp_snapshot() == before
    assert ImportRun.objects.count() == 1


def test_an_agent_granted_the_permission_refreshes(client, w, charge, changes_file):
    client.force_login(charge)
    assert "Actualiser les BMP" in page_of(client.get(reverse(LISTE)))
    response = confirm(client, upload(client, changes_file, campagne=w.campagne))
    assert response.status_code == 302
    run = ImportRun.objects.get(dry_run=False)
    assert (run.statut, run.utilisateur) == (StatutImport.APPLIQUE, charge)


def test_the_permission_is_checked_at_each_step(client, w, charge, changes_file, permission):
    """Withdrawn between the dry run and the confirmation: the confirmation is refused."""
    client.force_login(charge)
    jeton = jeton_of(upload(client, changes_file, campagne=w.campagne))
    charge.user_permissions.remove(permission)
    assert confirm(client, jeton).status_code == 403
    assert not ImportRun.objects.filter(dry_run=False).exists()


def test_a_head_has_no_admin_access(client, w, changes_file):
    client.force_login(w.head_a)
    before = bmp_snapshot()
    for response in [
        client.get(reverse(LISTE)),
        client.get(reverse(ACTUALISER)),
        upload(client, changes_file, campagne=w.campagne),
        confirm(client, "nimportequoi"),
    ]:
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert bmp_snapshot() == before
    assert not ImportRun.objects.exists()


# --- The runs and their errors ------------------------------------------------------------------


def test_the_page_of_a_rejected_run_shows_its_errors_and_summary(superuser_client, w):
    data = snapshot_file(w, bmp_a=row(w.bmp_a, heures="0"), bmp_b=[w.bmp_b.identifiant, "=1+1", "L1300", "", "4"])
    result = refresh_bmps(w.campagne, data, filename="nuit.csv", started_by="tâche planifiée")
    page = page_of(superuser_client.get(reverse("admin:bmp_importrun_change", args=[result.run.pk])))
    assert "Fichier « nuit.csv » rejeté (campagne 2024) : 2 erreurs, rien n'a été modifié." in page
    assert "<td>2</td><td>heures</td><td>0</td><td>Les heures doivent être strictement positives.</td>" in page
    assert "<td>3</td><td>uai</td><td>=1+1</td>" in page
    assert "Télécharger les 2 erreur(s) en CSV" in page
    assert "point-virgule (;)" in page

    download = superuser_client.get(reverse("admin:bmp_importrun_erreurs", args=[result.run.pk]))
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["ligne", "colonne", "valeur", "erreur"]
    assert rows[1][:3] == ["2", "heures", "0"]
    assert rows[2][:3] == ["3", "uai", "'=1+1"]  # never a formula in a spreadsheet


def test_the_runs_list_counts_errors_and_filters(superuser_client, w):
    refresh_bmps(w.campagne, snapshot_file(w), filename="bon.csv")
    refresh_bmps(w.campagne, snapshot_file(w, bmp_a=row(w.bmp_a, heures="x")), filename="mauvais.csv")
    response = superuser_client.get(reverse(LISTE), {"statut__exact": StatutImport.REJETE})
    (run,) = response.context["cl"].result_list
    assert (run.fichier, run._nombre_erreurs) == ("mauvais.csv", 1)
    page = page_of(superuser_client.get(reverse(LISTE)))
    assert "Essai à blanc" in page and "lancé par" in page


def test_a_run_cannot_be_added_changed_or_deleted(superuser_client, w):
    run = refresh_bmps(w.campagne, snapshot_file(w), filename="bon.csv").run
    assert superuser_client.get(reverse("admin:bmp_importrun_add")).status_code == 403
    assert superuser_client.get(reverse("admin:bmp_importrun_delete", args=[run.pk])).status_code == 403
    page = page_of(superuser_client.get(reverse("admin:bmp_importrun_change", args=[run.pk])))
    assert "Aucun changement : les 6 BMP du fichier sont déjà à jour." in page
    assert 'name="_save"' not in page


# --- The service's dry-run details --------------------------------------------------------------


def test_only_a_dry_run_lists_the_bmps(campagne, existing, schools):
    data = make_csv([["BMP-1", schools[0].uai, "L1300", "", "10"], ["BMP-2", schools[1].uai, "L0202", "", "6,5"]])
    dry = refresh_bmps(campagne, data, filename="b.csv", dry_run=True)
    assert [c.identifiant for c in dry.details["modifies"]] == ["BMP-1"]
    assert [c.identifiant for c in dry.details["retires"]] == ["BMP-3"]
    applied = refresh_bmps(campagne, data, filename="b.csv")
    assert applied.details == {}


def test_a_withdrawn_bmp_back_elsewhere_is_listed_as_added_with_its_old_place(campagne, existing, schools):
    BMP.objects.filter(pk=existing[2].pk).update(actif=False)
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "", "9"],
            ["BMP-2", schools[1].uai, "L0202", "", "6,5"],
            ["BMP-3", schools[4].uai, "L1900", "", "10"],
        ]
    )
    result = refresh_bmps(campagne, data, filename="b.csv", dry_run=True)
    assert (result.ajoutes, result.modifies) == (1, 0)
    (added,) = result.details["ajoutes"]
    assert (added.identifiant, added.uai, added.avant) == ("BMP-3", schools[4].uai, f"{schools[2].uai}, L1900")


def test_the_page_of_an_applied_run_links_the_requests_and_jumelages_touched(superuser_client, w):
    run = ImportRun.objects.create(
        campagne=w.campagne,
        fichier="nuit.csv",
        lance_par="tâche planifiée",
        statut=StatutImport.APPLIQUE,
        retires=1,
        touches={"demandes": [12, 13], "jumelages": []},
    )
    page = page_of(superuser_client.get(reverse("admin:bmp_importrun_change", args=[run.pk])))
    assert "Demandes touchées : 2 ; jumelages touchés : 0." in page
    assert f'<a href="{reverse("admin:jumelages_demande_change", args=[12])}">n° 12</a>' in page
    assert "Jumelages : 0" in page and "Aucune erreur." in page


def test_the_runs_list_costs_the_same_queries_for_more_runs(superuser_client, w):
    def queries_for_list():
        with CaptureQueriesContext(connection) as captured:
            assert superuser_client.get(reverse(LISTE)).status_code == 200
        return len(captured)

    refresh_bmps(w.campagne, snapshot_file(w, bmp_a=row(w.bmp_a, heures="x")), filename="mauvais.csv")
    few = queries_for_list()
    for _ in range(5):
        refresh_bmps(w.campagne, snapshot_file(w, bmp_a=row(w.bmp_a, heures="x")), filename="mauvais.csv")
    assert queries_for_list() == few


def test_files_waiting_past_their_confirmation_are_purged(superuser_client, w, changes_file, pending_dir):
    pending_dir.mkdir(parents=True)
    old = pending_dir / f"{w.superuser.pk}-{'0' * 64}.csv"
    old.write_bytes(b"ancien")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    upload(superuser_client, changes_file, campagne=w.campagne)
    assert not old.exists()
    assert len(list(pending_dir.iterdir())) == 1
