from django.core.management.base import BaseCommand, CommandError
from django.utils.formats import date_format

from ops.demo import DemoError, seed_demo


class Command(BaseCommand):
    help = "Prépare (ou réutilise) une campagne de démonstration ouverte aujourd'hui, avec des BMP et des comptes."

    def handle(self, *args, **options):
        try:
            result = seed_demo()
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        campagne = result.campagne
        state = "créée" if result.created else "réutilisée"
        self.stdout.write(
            self.style.SUCCESS(
                f"Campagne de démonstration {campagne.annee} {state} : phase {campagne.phase.label}, "
                f"ouverte du {date_format(campagne.date_ouverture)} au {date_format(campagne.date_cloture)}, "
                f"{result.bmps} BMP."
            )
        )
        if result.jumelages:
            self.stdout.write(
                f"{result.jumelages} jumelage(s) construit(s) par les services (leurs mails sont affichés ci-dessus)."
            )
        self.stdout.write("Comptes de démonstration (identifiant / mot de passe) :")
        for account in result.accounts:
            self.stdout.write(f"  {account.email} / {account.password} – {account.role}")
        self.stdout.write(str(campagne.annee))
