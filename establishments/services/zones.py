"""Importing zones de remplacement (FORMATS.md "Reference data", zones)."""

from django.db import transaction

from ..csvfiles import LineError, read_csv
from ..models import Commune, ZoneRemplacement
from .shared import Change, ImportResult, finish, raise_if_errors

ZONE_COLUMNS = {"codezone": "code_zone", "libellezone": "libelle_zone", "codeinsee": "code_insee"}


def import_zones(data: bytes, *, dry_run: bool = False) -> ImportResult:
    """Import zones de remplacement (FORMATS.md "Reference data", zones): one line per commune of a
    zone; key = zone code. Each commune must already exist. A zone of the file gets exactly the
    file's communes; a zone absent from the file is left alone."""
    csv_file = read_csv(data, ZONE_COLUMNS)
    result = ImportResult(
        "zones de remplacement",
        "zones de remplacement (code_zone;libelle_zone;code_insee)",
        csv_file.encoding,
        csv_file.delimiter_label,
    )
    result.lines = len(csv_file.rows)
    with transaction.atomic():
        codes_insee = {csv_file.value(fields, "codeinsee").upper() for _line, fields in csv_file.rows}
        communes = {c.code_insee: c for c in Commune.objects.filter(code_insee__in=codes_insee)}
        errors: list[LineError] = []
        zones: dict[str, dict] = {}
        for line, fields in csv_file.rows:
            code = csv_file.value(fields, "codezone")
            libelle = csv_file.value(fields, "libellezone")
            code_insee = csv_file.value(fields, "codeinsee").upper()
            if not code:
                errors.append(LineError(line, "Le code de la zone est vide.", "code_zone", code))
                continue
            if len(code) > 20:
                errors.append(LineError(line, "Code de zone trop long (20 caractères au plus).", "code_zone", code))
                continue
            zone = zones.setdefault(code, {"libelle": libelle, "line": line, "communes": {}})
            if not libelle:
                errors.append(LineError(line, "Le libellé de la zone est vide.", "libelle_zone", libelle))
            elif len(libelle) > 150:
                errors.append(LineError(line, "Libellé trop long (150 caractères au plus).", "libelle_zone", libelle))
            elif zone["libelle"] and libelle != zone["libelle"]:
                errors.append(
                    LineError(
                        line,
                        f"Libellé différent de celui de la ligne {zone['line']} (« {zone['libelle']} ») "
                        "pour la même zone.",
                        "libelle_zone",
                        libelle,
                    )
                )
            commune = communes.get(code_insee)
            if commune is None:
                errors.append(
                    LineError(
                        line,
                        "Commune inconnue : importez d'abord les communes (python manage.py import_communes).",
                        "code_insee",
                        code_insee,
                    )
                )
            elif commune.pk in zone["communes"]:
                errors.append(
                    LineError(
                        line,
                        f"Commune déjà listée pour cette zone (ligne {zone['communes'][commune.pk]}).",
                        "code_insee",
                        code_insee,
                    )
                )
            else:
                zone["communes"][commune.pk] = line
        raise_if_errors(errors, csv_file)

        Through = ZoneRemplacement.communes.through
        existing = {z.code: z for z in ZoneRemplacement.objects.filter(code__in=zones)}
        links: dict[int, dict[int, int]] = {}
        for link_id, zone_id, commune_id in Through.objects.filter(zoneremplacement__in=existing.values()).values_list(
            "id", "zoneremplacement_id", "commune_id"
        ):
            links.setdefault(zone_id, {})[commune_id] = link_id
        to_create = [
            ZoneRemplacement(code=code, libelle=z["libelle"]) for code, z in zones.items() if code not in existing
        ]
        ZoneRemplacement.objects.bulk_create(to_create)
        for zone in to_create:
            result.added_items.append(
                Change(zone.code, zone.libelle, (f"{len(zones[zone.code]['communes'])} communes",))
            )
        to_update, new_links, removed_links = [], [], []
        for zone in [*existing.values(), *to_create]:
            wanted = set(zones[zone.code]["communes"])
            current = links.get(zone.pk, {})
            added = wanted - set(current)
            removed = set(current) - wanted
            new_links.extend(Through(zoneremplacement_id=zone.pk, commune_id=pk) for pk in sorted(added))
            removed_links.extend(current[pk] for pk in removed)
            if zone.code not in existing:
                continue
            changed = []
            if zone.libelle != zones[zone.code]["libelle"]:
                zone.libelle = zones[zone.code]["libelle"]
                to_update.append(zone)
                changed.append("libellé")
            if added or removed:
                changed.append(f"communes : {len(added)} ajoutée(s), {len(removed)} retirée(s)")
            if changed:
                result.updated_items.append(Change(zone.code, zone.libelle, tuple(changed)))
            else:
                result.unchanged += 1
        if to_update:
            ZoneRemplacement.objects.bulk_update(to_update, ["libelle"])
        if removed_links:
            Through.objects.filter(id__in=removed_links).delete()
        Through.objects.bulk_create(new_links)
        return finish(result, dry_run)
