"""The French wording of the refresh's numbers and counts."""


def format_number(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def format_percent(share: float) -> str:
    return f"{share * 100:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " %"


def plural(count: int, word: str) -> str:
    return f"{format_number(count)} {word}{'s' if count > 1 else ''}"


def touched_line(touched: dict) -> str:
    demandes = len(touched.get("demandes", []))
    jumelages = len(touched.get("jumelages", []))
    others = [f"{key} : {len(ids)}" for key, ids in touched.items() if key not in ("demandes", "jumelages")]
    line = f"Demandes touchées : {format_number(demandes)} ; jumelages touchés : {format_number(jumelages)}"
    return line + (" ; " + " ; ".join(others) if others else "") + "."
