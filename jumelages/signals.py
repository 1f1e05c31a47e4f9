"""Signals of the jumelages app; notifications listens, so jumelages never imports it.

Every Evenement is announced exactly once, inside the transaction that records it (a
rolled-back operation announces nothing that lasts), by one of these two signals:

evenement_enregistre
    sender=Evenement, evenement=<Evenement>
    Sent for the event of each operation a user performs: demande_envoyee,
    demande_acceptee, demande_refusee, demande_annulee, jumelage_cree, jumelage_etendu,
    jumelage_supprime, jumelage_valide, rattachement_modifie.

evenements_enregistres
    sender=Evenement, evenements=[<Evenement>, ...]
    Sent once for events recorded in bulk, so that a sweep stays a constant number of
    queries: every end of a request that no user chose — demande_expiree (the expiry
    sweep, or a request found past its deadline when a user tried to answer it) and
    demande_caduque (the closing sweep, the requests an operation made impossible, a
    request found impossible when a user tried to accept it) — and campagne_cloturee, and
    the effects of the nightly refresh (bmp_modifie, bmp_retire, bmp_restaure). Never
    sent with an empty list. Its events have no author (auteur, pour_etablissement and
    pour_service are None).

In both cases each Evenement instance is saved (it has its pk) and carries, besides its
fields and its saved many-to-many relations, a plain attribute `etablissement_ids`: the
ids of the schools concerned (the same as `etablissements_concernes`), so that a
receiver needs no query per event to know whom to tell, and `service_ids` likewise for
`services_concernes`.
"""

from django.dispatch import Signal

evenement_enregistre = Signal()
evenements_enregistres = Signal()
