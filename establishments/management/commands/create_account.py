from django.core.management.base import BaseCommand, CommandError

from establishments.accounts import AccountError, create_account


class Command(BaseCommand):
    help = "Crée ou met à jour le compte d'un chef d'établissement (--uai) ou d'un agent d'un service (--service)."

    def add_arguments(self, parser):
        parser.add_argument("email", help="Identifiant et adresse électronique du compte.")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--uai", action="append", dest="uais", metavar="UAI", help="Établissement (répétable).")
        group.add_argument("--service", metavar="UAI", help="UAI du service DOS de l'agent.")
        parser.add_argument("--password", help="Mot de passe (généré pour un nouveau compte s'il est omis).")
        parser.add_argument("--nom", default="")
        parser.add_argument("--prenom", default="")

    def handle(self, *args, **options):
        try:
            result = create_account(
                options["email"],
                uais=options["uais"],
                service_uai=options["service"],
                password=options["password"],
                nom=options["nom"],
                prenom=options["prenom"],
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        user = result.user
        profil = user.profil
        if profil.service:
            pour = f"agent du service {profil.service}"
        else:
            pour = "chef d'établissement de " + ", ".join(str(e) for e in profil.etablissements.all())
        verbe = "créé" if result.created else "mis à jour"
        self.stdout.write(self.style.SUCCESS(f"Compte {user.username} {verbe} : {pour}."))
        if result.password and not options["password"]:
            self.stdout.write(f"Mot de passe généré : {result.password}")
