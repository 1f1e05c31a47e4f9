"""French formatting of what users read: numbers, hours, percentages, distances, dates (Paris time).

Every page, mail and export formats through these functions, so that « 9,5 h », « 12,3 km » and
« 1er juillet 2024 à 00 h 00 » are written one way everywhere.
"""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

MOIS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def format_nombre(nombre) -> str:
    """French decimal comma, no useless zeros: 9.50 → « 9,5 », 18.00 → « 18 », -1.50 → « -1,5 »."""
    if isinstance(nombre, int):
        return str(nombre)
    return f"{nombre:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def format_heures(heures: Decimal) -> str:
    """9.50 → « 9,5 h », 18.00 → « 18 h »."""
    return f"{format_nombre(heures)} h"


def format_pourcentage(valeur: Decimal | None) -> str:
    """12.5 → « 12,5 % »; None (nothing to divide) → « — »."""
    return "—" if valeur is None else f"{valeur} %".replace(".", ",")


def format_km(km: float | None) -> str:
    """12.34 → « 12,3 km »; None (a school without coordinates) → « distance inconnue »."""
    if km is None:
        return "distance inconnue"
    return f"{km:.1f} km".replace(".", ",")


def format_instant(instant: datetime.datetime) -> str:
    """« 27 juin 2024 à 00 h 00 », « 1er juillet 2024 à 00 h 00 » (Paris time)."""
    local = instant.astimezone(PARIS)
    jour = "1er" if local.day == 1 else str(local.day)
    return f"{jour} {MOIS[local.month - 1]} {local.year} à {local:%H} h {local:%M}"


def format_jour(day: datetime.date) -> str:
    """« 27 juin 2024 », « 1er juillet 2024 »."""
    jour = "1er" if day.day == 1 else str(day.day)
    return f"{jour} {MOIS[day.month - 1]} {day.year}"
