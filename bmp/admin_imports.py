"""The runs of the BMP refresh in the admin, and « Actualiser les BMP » (issue 7).

Every run (command, nightly task, admin) is read here with its summary and its errors. The upload
is two steps: a dry run shows what the file would change (or every error); « Confirmer
l'actualisation » applies the same file, validated again by bmp.services.refresh_bmps. Between
the two, the file waits on the server under its SHA-256, and the page carries a signed ticket
(user, SHA-256, campaign, forced or not) that expires. Only holders of bmp.lancer_actualisation
(superusers, and the agents they grant it to) may upload: the file covers the whole académie.
"""

import csv
import datetime
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Func, IntegerField
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join

from common.admin import ReadOnlyAdminMixin
from common.exports import safe_row
from common.formats import format_heures
from establishments.csvfiles import DELIMITER_LABELS, LineError, sha256_of

from .enums import StatutImport
from .forms import CONFIRMATION_MAX_AGE_SECONDS, ActualisationForm, ConfirmationForm
from .models import Campagne, ImportRun
from .services import RefreshResult, refresh_bmps

logger = logging.getLogger(__name__)

PERMISSION_ACTUALISATION = "bmp.lancer_actualisation"
# Errors shown on a page; all of them are in the run's CSV.
ERRORS_SHOWN = 1000
TOUCHED_SHOWN = 50
TOUCHED_ADMIN_URLS = {"demandes": "admin:jumelages_demande_change", "jumelages": "admin:jumelages_jumelage_change"}
DETAIL_TITLES = {"ajoutes": "Ajoutés", "modifies": "Modifiés", "retires": "Retirés", "restaures": "Restaurés"}


def peut_actualiser(user) -> bool:
    return user.is_active and user.is_staff and user.has_perm(PERMISSION_ACTUALISATION)


class JSONArrayLength(Func):
    """The length of a JSON array column, counted by the database (the list does not load the errors)."""

    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="jsonb_array_length", **extra_context)


# --- The uploaded file between the dry run and its confirmation ---------------------------------


SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _pending_dir() -> Path:
    """One machine's temporary directory, which its web processes share (FILE_UPLOAD_TEMP_DIR if set)."""
    return Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()) / "jumo-actualisations-bmp"


def _pending_path(user, sha256: str) -> Path:
    if not SHA256.match(sha256):
        raise ValueError("empreinte SHA-256 invalide")
    return _pending_dir() / f"{user.pk}-{sha256}.csv"


def _keep_pending(user, sha256: str, data: bytes) -> None:
    """Store the file for its confirmation (written whole, then renamed: never half a file)."""
    directory = _pending_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _purge_pending(directory)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".depot-", delete=False) as temporary:
        temporary.write(data)
    os.replace(temporary.name, _pending_path(user, sha256))


def _read_pending(user, sha256: str) -> bytes | None:
    try:
        return _pending_path(user, sha256).read_bytes()
    except (OSError, ValueError):
        return None


def _purge_pending(directory: Path) -> None:
    """Forget the files whose confirmation has expired."""
    limit = time.time() - CONFIRMATION_MAX_AGE_SECONDS - 60
    for old in directory.iterdir():
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except OSError:
            pass


def _hours(value) -> str:
    """7.50 → « 7,5 h », 9.00 → « 9 h », nothing for no hours."""
    return "" if value is None else format_heures(value)


# --- Reading a run --------------------------------------------------------------------------


def _errors_of(run: ImportRun) -> list[LineError]:
    return [
        LineError(error.get("ligne"), error.get("message", ""), error.get("colonne"), error.get("valeur"))
        for error in run.erreurs or []
    ]


def _result_of(run: ImportRun) -> RefreshResult:
    """The run as the service's result, to print its summary the same way."""
    counts = (run.ajoutes, run.modifies, run.retires, run.restaures, run.inchanges)
    ok = run.statut in (StatutImport.APPLIQUE, StatutImport.A_BLANC)
    return RefreshResult(
        campagne=run.campagne,
        fichier=run.fichier,
        statut=run.statut,
        dry_run=run.dry_run,
        force=run.force,
        sha256=run.sha256,
        encoding=run.encodage,
        delimiter=run.separateur,
        lignes=run.lignes,
        ajoutes=run.ajoutes,
        modifies=run.modifies,
        retires=run.retires,
        restaures=run.restaures,
        inchanges=run.inchanges,
        planned=ok or any(counts),
        disciplines_creees=run.disciplines_creees or [],
        errors=_errors_of(run),
        touched=run.touches or {},
        duration=run.duree or datetime.timedelta(0),
    )


def errors_table(errors: list[LineError], *, total: int | None = None, csv_url: str = ""):
    """The errors as a table: line, column, value, message (the first ERRORS_SHOWN)."""
    total = len(errors) if total is None else total
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                error.line if error.line is not None else "–",
                error.column or "–",
                error.value if error.value is not None else "–",
                error.message,
            )
            for error in errors[:ERRORS_SHOWN]
        ),
    )
    more = ""
    if total > ERRORS_SHOWN:
        more = format_html(
            "<p>Les {} premières erreurs sur {} sont affichées{}.</p>",
            ERRORS_SHOWN,
            total,
            format_html(' ; <a href="{}">toutes les erreurs en CSV</a>', csv_url) if csv_url else "",
        )
    return format_html(
        '<table class="erreurs-import"><thead><tr><th scope="col">Ligne</th><th scope="col">Colonne</th>'
        '<th scope="col">Valeur</th><th scope="col">Erreur</th></tr></thead><tbody>{}</tbody></table>{}',
        rows,
        more,
    )


# --- The admin ----------------------------------------------------------------------------


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "debut",
        "campagne",
        "fichier",
        "statut",
        "dry_run",
        "force",
        "lance_par",
        "ajoutes",
        "modifies",
        "retires",
        "restaures",
        "inchanges",
        "nombre_erreurs",
        "duree",
    ]
    list_filter = ["statut", "dry_run", "force", "lance_par", "campagne"]
    list_select_related = ["campagne"]
    search_fields = ["fichier", "sha256", "lance_par", "utilisateur__username"]
    date_hierarchy = "debut"
    change_list_template = "admin/bmp/importrun/change_list.html"
    fieldsets = [
        (None, {"fields": ["resume", "statut", "campagne", "dry_run", "force"]}),
        ("Erreurs", {"fields": ["erreurs_lisibles"]}),
        (
            "Changements",
            {
                "fields": [
                    "lignes",
                    "ajoutes",
                    "modifies",
                    "retires",
                    "restaures",
                    "inchanges",
                    "disciplines_creees_lisibles",
                    "touches_lisibles",
                ]
            },
        ),
        ("Fichier", {"fields": ["fichier", "sha256", "encodage", "separateur_lisible"]}),
        ("Exécution", {"fields": ["debut", "duree", "lance_par", "utilisateur"]}),
    ]
    readonly_fields = [
        "resume",
        "erreurs_lisibles",
        "disciplines_creees_lisibles",
        "touches_lisibles",
        "separateur_lisible",
    ]

    # A run is a record: nobody adds, changes or deletes one by hand.
    def get_queryset(self, request):
        # The errors of a rejected file can be many: the list only counts them.
        return super().get_queryset(request).defer("erreurs").annotate(_nombre_erreurs=JSONArrayLength("erreurs"))

    @admin.display(description="erreurs", ordering="_nombre_erreurs")
    def nombre_erreurs(self, obj):
        return obj._nombre_erreurs

    @admin.display(description="résumé")
    def resume(self, obj):
        return format_html_join("", "<p>{}</p>", ((line,) for line in _result_of(obj).summary_lines()))

    @admin.display(description="erreurs")
    def erreurs_lisibles(self, obj):
        errors = _errors_of(obj)
        if not errors:
            return "Aucune erreur."
        csv_url = reverse("admin:bmp_importrun_erreurs", args=[obj.pk])
        return format_html(
            '{}<p><a href="{}">Télécharger les {} erreur(s) en CSV</a></p>',
            errors_table(errors, csv_url=csv_url),
            csv_url,
            len(errors),
        )

    @admin.display(description="disciplines créées")
    def disciplines_creees_lisibles(self, obj):
        created = obj.disciplines_creees or []
        return ", ".join(f"{d.get('code')} ({d.get('libelle')})" for d in created) or "Aucune."

    @admin.display(description="demandes et jumelages touchés")
    def touches_lisibles(self, obj):
        touched = obj.touches or {}
        if not touched:
            return "Aucun (essai à blanc, fichier rejeté ou rien à signaler)."
        parts = []
        for key, ids in touched.items():
            ids = list(ids or [])
            if not ids:
                parts.append(format_html("<p>{} : 0</p>", key.capitalize()))
                continue
            links = format_html_join(", ", "{}", ((self._touched_link(key, pk),) for pk in ids[:TOUCHED_SHOWN]))
            more = f", … et {len(ids) - TOUCHED_SHOWN} autres" if len(ids) > TOUCHED_SHOWN else ""
            parts.append(format_html("<p>{} : {} ({}{})</p>", key.capitalize(), len(ids), links, more))
        return format_html_join("", "{}", ((part,) for part in parts))

    @staticmethod
    def _touched_link(key: str, pk):
        try:
            url = reverse(TOUCHED_ADMIN_URLS[key], args=[pk])
        except (KeyError, NoReverseMatch):
            return format_html("n° {}", pk)
        return format_html('<a href="{}">n° {}</a>', url, pk)

    @admin.display(description="séparateur détecté")
    def separateur_lisible(self, obj):
        return DELIMITER_LABELS.get(obj.separateur, obj.separateur) or "–"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "peut_actualiser": peut_actualiser(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("actualiser/", view(self.actualiser_view), name="bmp_importrun_actualiser"),
            path("actualiser/confirmer/", view(self.confirmer_view), name="bmp_importrun_confirmer"),
            path("<int:pk>/erreurs.csv", view(self.erreurs_csv_view), name="bmp_importrun_erreurs"),
            *super().get_urls(),
        ]

    # --- Actualiser les BMP ---------------------------------------------------------------

    def _check_permission(self, request) -> None:
        if not peut_actualiser(request.user):
            raise PermissionDenied(
                "Actualiser les BMP demande la permission « Peut lancer une actualisation des BMP »."
            )

    def actualiser_view(self, request):
        """Step 1: the file is uploaded and dry-run; the page shows what would change, or every error."""
        self._check_permission(request)
        form = ActualisationForm(request.POST or None, request.FILES or None)
        context = {}
        if request.method == "POST" and form.is_valid():
            campagne = form.cleaned_data["campagne"]
            upload = form.cleaned_data["fichier"]
            forcer = form.cleaned_data["forcer"]
            data = b"".join(upload.chunks())
            result = self._refresh(request, campagne, data, upload.name, dry_run=True, force=forcer)
            if result is None:
                return HttpResponseRedirect(request.path)
            context["result"] = result
            if result.ok and result.changed_anything:
                _keep_pending(request.user, result.sha256, data)
                jeton = ConfirmationForm.jeton_pour(
                    user=request.user, sha256=result.sha256, fichier=upload.name, campagne=campagne, forcer=forcer
                )
                context["confirmation"] = ConfirmationForm(initial={"jeton": jeton}, user=request.user)
            form = ActualisationForm(initial={"campagne": campagne})
        return self._render(request, form, **context)

    def confirmer_view(self, request):
        """Step 2: the same file (same SHA-256) is applied; the service validates it again."""
        self._check_permission(request)
        retry = reverse("admin:bmp_importrun_actualiser")
        if request.method != "POST":
            return HttpResponseRedirect(retry)
        form = ConfirmationForm(request.POST, user=request.user)
        if not form.is_valid():
            for error in form.errors.get("jeton", ["Confirmation incomplète : déposez à nouveau le fichier."]):
                self.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(retry)
        ticket = form.cleaned_data["jeton"]
        campagne = Campagne.objects.filter(pk=ticket["campagne"]).first()
        data = _read_pending(request.user, ticket["sha256"])
        if campagne is None or data is None:
            self.message_user(
                request,
                "Le fichier de l'essai à blanc n'est plus disponible sur le serveur (ou sa campagne n'existe "
                "plus) : déposez-le à nouveau. Rien n'a été modifié.",
                messages.ERROR,
            )
            return HttpResponseRedirect(retry)
        if sha256_of(data) != ticket["sha256"]:
            _pending_path(request.user, ticket["sha256"]).unlink(missing_ok=True)
            self.message_user(
                request,
                "Le fichier conservé depuis l'essai à blanc a changé (empreinte SHA-256 différente) : "
                "déposez-le à nouveau. Rien n'a été modifié.",
                messages.ERROR,
            )
            return HttpResponseRedirect(retry)
        result = self._refresh(request, campagne, data, ticket["fichier"], dry_run=False, force=ticket["forcer"])
        if result is None:
            return HttpResponseRedirect(retry)
        if not result.ok:
            # The database changed since the dry run (a school closed, BMPs withdrawn…).
            self.message_user(request, "Le fichier est refusé à l'application : rien n'a été modifié.", messages.ERROR)
            return self._render(request, ActualisationForm(initial={"campagne": campagne}), result=result)
        level = messages.SUCCESS if result.changed_anything else messages.INFO
        self.message_user(request, " ".join(result.summary_lines()), level)
        return HttpResponseRedirect(reverse("admin:bmp_importrun_change", args=[result.run.pk]))

    def _refresh(self, request, campagne, data, filename, *, dry_run, force) -> RefreshResult | None:
        """The service; an unexpected failure (recorded as a failed run) is told in French, not as a trace."""
        try:
            return refresh_bmps(
                campagne,
                data,
                filename=filename,
                dry_run=dry_run,
                force=force,
                started_by="admin",
                user=request.user,
            )
        except Exception:
            logger.exception("Échec de l'actualisation des BMP lancée depuis l'administration")
            self.message_user(
                request,
                "L'actualisation a échoué sur une erreur inattendue : rien n'a été modifié. L'erreur est "
                "enregistrée dans la liste des actualisations.",
                messages.ERROR,
            )
            return None

    def _render(self, request, form, result: RefreshResult | None = None, confirmation=None):
        details = []
        if result is not None and result.details:
            counts = {"ajoutes": result.ajoutes, "modifies": result.modifies}
            counts |= {"retires": result.retires, "restaures": result.restaures}
            for key, title in DETAIL_TITLES.items():
                bmps = [
                    {"bmp": change, "avant": _hours(change.anciennes_heures), "apres": _hours(change.heures)}
                    for change in result.details.get(key, [])
                ]
                details.append({"key": key, "title": title, "count": counts[key], "bmps": bmps})
        context = {
            **self.admin_site.each_context(request),
            "title": "Actualiser les BMP",
            "opts": self.model._meta,
            "form": form,
            "result": result,
            "confirmation": confirmation,
            "details": details,
            "confirmation_minutes": CONFIRMATION_MAX_AGE_SECONDS // 60,
            "errors_table": self._errors_of_result(result),
        }
        return TemplateResponse(request, "admin/bmp/importrun/actualiser.html", context)

    @staticmethod
    def _errors_of_result(result: RefreshResult | None):
        if result is None or not result.errors:
            return ""
        csv_url = reverse("admin:bmp_importrun_erreurs", args=[result.run.pk]) if result.run else ""
        return errors_table(result.errors, csv_url=csv_url)

    def erreurs_csv_view(self, request, pk):
        """Every error of a run, for a spreadsheet (cells made safe from formulas)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(ImportRun, pk=pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="erreurs-actualisation-{run.pk}.csv"'
        response.write("\ufeff")
        writer = csv.writer(response, delimiter=";")
        writer.writerow(["ligne", "colonne", "valeur", "erreur"])
        for error in _errors_of(run):
            writer.writerow(safe_row([error.line, error.column, error.value, error.message]))
        return response
