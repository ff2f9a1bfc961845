"""What each finding says to the buyer, in English and in French."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

LANGUAGES = ("en", "fr")

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
}

# Holiday names from the calendar library are English; French buyers get French ones.
_HOLIDAYS_FR = {
    "New Year's Day": "Nouvel An",
    "Chinese New Year": "Nouvel An chinois (fête du Printemps)",
    "Tomb-Sweeping Day": "Qingming",
    "Labor Day": "fête du Travail",
    "Dragon Boat Festival": "fête des Bateaux-Dragons",
    "Mid-Autumn Festival": "fête de la Mi-Automne",
    "National Day": "fête nationale (semaine dorée)",
}


def fmt_date(value: date | datetime, lang: str) -> str:
    """A date as a person writes it: 16 Dec 2026 / 16 déc. 2026."""
    d = value.date() if isinstance(value, datetime) else value
    return f"{d.day} {_MONTHS[lang][d.month - 1]} {d.year}"


def fmt_when(value: datetime, lang: str) -> str:
    """A date with the time when it is not midnight."""
    if (value.hour, value.minute) == (0, 0):
        return fmt_date(value, lang)
    return fmt_deadline(value, lang)


def fmt_deadline(value: datetime, lang: str) -> str:
    """A deadline always with its time, so "ends on 16 Dec at 00:00" cannot be read as "during 16 Dec"."""
    return f"{fmt_date(value, lang)} {'at' if lang == 'en' else 'à'} {value:%H:%M}"


def fmt_due(value: datetime, lang: str) -> str:
    """A deadline still ahead, as the last moment to act: 'before 3 Dec 2026 at 00:00' (so 2 Dec is the last day)."""
    return f"{'before' if lang == 'en' else 'avant le'} {fmt_deadline(value, lang)}"


# noun -> language -> (singular, plural): every count shown to a person goes through counted().
NOUNS = {
    "day": {"en": ("day", "days"), "fr": ("jour", "jours")},
    "hour": {"en": ("hour", "hours"), "fr": ("heure", "heures")},
    "order": {"en": ("order", "orders"), "fr": ("commande", "commandes")},
    "alert": {"en": ("alert", "alerts"), "fr": ("alerte", "alertes")},
    "attempt": {"en": ("attempt", "attempts"), "fr": ("tentative", "tentatives")},
    "number": {"en": ("number", "numbers"), "fr": ("numéro", "numéros")},
    "finding": {"en": ("finding", "findings"), "fr": ("constat", "constats")},
    "new finding": {"en": ("new finding", "new findings"), "fr": ("nouveau constat", "nouveaux constats")},
    "archived order": {"en": ("archived order", "archived orders"), "fr": ("commande archivée", "commandes archivées")},
    "new event": {"en": ("new event", "new events"), "fr": ("nouvel événement", "nouveaux événements")},
    "tracking number": {"en": ("tracking number", "tracking numbers"), "fr": ("numéro de suivi", "numéros de suivi")},
    "other": {"en": ("more", "more"), "fr": ("autre", "autres")},
}


def singular(n: int, lang: str) -> bool:
    """Whether a count of n takes the singular: only 1 in English, 0 and 1 in French."""
    return abs(n) < 2 if lang == "fr" else abs(n) == 1


def counted(n: int, noun: str, lang: str = "en") -> str:
    """'1 order', '0 orders', '0 commande', '2 commandes'."""
    one, many = NOUNS[noun][lang]
    return f"{n} {one if singular(n, lang) else many}"


def days(n: int, lang: str) -> str:
    """'1 day' / '3 days' / '1 jour' / '3 jours'."""
    return counted(n, "day", lang)


# `status` code (lifecycle.tracking_state: a carrier's Status or one of its own) -> language -> words.
STATUS_WORDS = {
    "en": {
        "not_found": "not found", "info_received": "label created", "in_transit": "in transit",
        "available_for_pickup": "at pickup point", "out_for_delivery": "out for delivery", "delivered": "delivered",
        "delivery_failed": "delivery failed", "exception": "carrier problem", "returned": "returned",
        "expired": "tracking expired", "unknown": "unknown", "failing": "source failing", "pending": "not polled yet",
        "no source": "no source", "no tracking": "no tracking",
    },
    "fr": {
        "not_found": "introuvable", "info_received": "étiquette créée", "in_transit": "en transit",
        "available_for_pickup": "à retirer", "out_for_delivery": "en livraison", "delivered": "livré",
        "delivery_failed": "échec de livraison", "exception": "incident", "returned": "renvoyé",
        "expired": "suivi expiré", "unknown": "inconnu", "failing": "source en échec", "pending": "pas encore interrogé",
        "no source": "sans source", "no tracking": "sans suivi",
    },
}


def holiday_name(name: str, lang: str) -> str:
    """The holiday's name in the buyer's language."""
    return _HOLIDAYS_FR.get(name, name) if lang == "fr" else name


# kind -> language -> (title, message, action); placeholders are filled by render().
CATALOG: dict[str, dict[str, tuple[str, str, str]]] = {
    "tracking_missing": {
        "en": (
            "No tracking number yet",
            "Ordered on {ordered} ({age} ago) and the seller has given no tracking number.",
            "Ask the seller for the tracking number in the marketplace's messages (not by e-mail or chat apps) "
            "and keep a screenshot of the request.",
        ),
        "fr": (
            "Toujours pas de numéro de suivi",
            "Commandé le {ordered} (il y a {age}) et le vendeur n'a donné aucun numéro de suivi.",
            "Demandez le numéro de suivi au vendeur par la messagerie de la plateforme (pas par e-mail ni "
            "messagerie externe) et gardez une capture d'écran de la demande.",
        ),
    },
    "tracking_unknown": {
        "en": (
            "Carrier has no data for the tracking number",
            "Tracking number {tracking} was given {age} ago and {carrier} still knows nothing about it.",
            "The label may be fake or not scanned yet: ask the seller to confirm the number and the carrier, "
            "and keep the answer as evidence.",
        ),
        "fr": (
            "Le transporteur ne connaît pas le numéro de suivi",
            "Le numéro {tracking} a été donné il y a {age} et {carrier} n'a toujours aucune information.",
            "L'étiquette est peut-être fausse ou pas encore scannée : demandez au vendeur de confirmer le numéro "
            "et le transporteur, et gardez sa réponse comme preuve.",
        ),
    },
    "stalled": {
        "en": (
            "Tracking has not moved for {age}",
            "Last event on {last_when}: \u201c{last_text}\u201d{last_where}. Nothing new for {age}.",
            "Contact the seller in the marketplace's messages and ask what is happening; take screenshots of "
            "the tracking page and of the conversation.",
        ),
        "fr": (
            "Le suivi ne bouge plus depuis {age}",
            "Dernier événement le {last_when} : « {last_text} »{last_where}. Rien de nouveau depuis {age}.",
            "Contactez le vendeur par la messagerie de la plateforme et demandez ce qui se passe ; faites des "
            "captures d'écran du suivi et de la conversation.",
        ),
    },
    "dark_after_export": {
        "en": (
            "Tracked only to the border so far",
            "The last event ({last_when}) is \u201c{last_text}\u201d{last_where}: the parcel left the origin country "
            "and the carrier shows nothing since. Cheap parcels often go dark until they reach the destination.",
            "{watch}",
        ),
        "fr": (
            "Suivi seulement jusqu'à la frontière pour l'instant",
            "Le dernier événement ({last_when}) est « {last_text} »{last_where} : le colis a quitté le pays "
            "d'origine et le transporteur n'affiche plus rien depuis. C'est courant pour les envois économiques.",
            "{watch}",
        ),
    },
    "promised_passed": {
        "en": (
            "Promised delivery date has passed",
            "The seller promised delivery by {promised}; it is now {overdue} late and not delivered.",
            "Contact the seller first (platforms value that), then ask them to extend buyer protection "
            "(deadline: {protection}) and check that the new date shows on the order.",
        ),
        "fr": (
            "La date de livraison promise est dépassée",
            "Le vendeur a promis une livraison avant le {promised} ; le colis a {overdue} de retard et n'est pas "
            "livré.",
            "Contactez d'abord le vendeur (les plateformes en tiennent compte), puis demandez-lui de prolonger la "
            "protection acheteur (échéance : {protection}) et vérifiez que la nouvelle date apparaît sur la commande.",
        ),
    },
    "protection_ending": {
        "en": (
            "Buyer protection ends in {left}",
            "Buyer protection is running out and the parcel is not delivered: a \u201cnot received\u201d dispute "
            "can be opened only {deadline}. After that the order completes and the seller is paid.{holiday}",
            "Open a dispute now, or get the seller to extend the protection first and check that the new date "
            "shows on the order. Contact the seller before the dispute, open only one, and keep every message "
            "and screenshot.",
        ),
        "fr": (
            "La protection acheteur se termine dans {left}",
            "La protection acheteur arrive à sa fin et le colis n'est pas livré : un litige « non reçu » ne peut "
            "être ouvert qu'{deadline}. Ensuite la commande se clôt et le vendeur est payé.{holiday}",
            "Ouvrez un litige maintenant, ou obtenez d'abord du vendeur une prolongation de la protection et "
            "vérifiez que la nouvelle date apparaît sur la commande. Contactez le vendeur avant le litige, n'en "
            "ouvrez qu'un seul, et gardez tous les messages et captures d'écran.",
        ),
    },
    "protection_ended": {
        "en": (
            "Buyer protection has ended, parcel not delivered",
            "Buyer protection ended on {deadline} and the parcel was not delivered.{next}",
            # {next_do}: what the next window still open asks (AliExpress: a refund after completion), or that none is.
            "Check the order now: if it is still open, open a \u201cnot received\u201d dispute at once. {next_do}",
        ),
        "fr": (
            "La protection acheteur est terminée, colis non livré",
            "La protection acheteur s'est terminée le {deadline} et le colis n'a pas été livré.{next}",
            "Vérifiez la commande tout de suite : si elle est encore ouverte, ouvrez immédiatement un litige "
            "« non reçu ». {next_do}",
        ),
    },
    # A protection window of the order's marketplace or payment (monitor/windows.py): its kind is
    # protection_ending / protection_ended, its texts name the window and say how its date was computed.
    "window_ending": {
        "en": (
            "{window} ends in {left}",
            "{window} is running out and the parcel is not delivered: use it {deadline}.{computed}{holiday}",
            "{do} Open only one dispute or claim per order, and keep every message and screenshot.",
        ),
        "fr": (
            "{window} : fin dans {left}",
            "{window} arrive à sa fin et le colis n'est pas livré : à utiliser {deadline}.{computed}{holiday}",
            "{do} N'ouvrez qu'un litige ou une réclamation par commande, et gardez tous les messages et captures "
            "d'écran.",
        ),
    },
    "window_refund_ending": {  # a window counted from the delivery, for a delivered order (kind refund_window_ending)
        "en": (
            "{window} ends in {left}",
            "{window} is running out: use it {deadline}.{computed}{holiday}",
            "Anything wrong with the item? {do} After that date it is too late.",
        ),
        "fr": (
            "{window} : fin dans {left}",
            "{window} arrive à sa fin : à utiliser {deadline}.{computed}{holiday}",
            "Un problème avec l'article ? {do} Après cette date il sera trop tard.",
        ),
    },
    "window_ended": {
        "en": (
            "{window} has ended, parcel not delivered",
            "{window} ended on {deadline} and the parcel was not delivered.{computed}{next}",
            "{next_do}",
        ),
        "fr": (
            "{window} : période terminée, colis non livré",
            "{window} : la période a pris fin le {deadline} et le colis n'a pas été livré.{computed}{next}",
            "{next_do}",
        ),
    },
    "exception": {
        "en": (
            "Tracking problem: {event_kind}",
            "{last_when}: \u201c{last_text}\u201d{last_where}.",
            "Act now: contact the seller in the marketplace's messages (and the carrier if the parcel is in "
            "your country); keep a screenshot of this event.",
        ),
        "fr": (
            "Problème de suivi : {event_kind}",
            "{last_when} : « {last_text} »{last_where}.",
            "Agissez maintenant : contactez le vendeur par la messagerie de la plateforme (et le transporteur si "
            "le colis est dans votre pays) ; gardez une capture d'écran de cet événement.",
        ),
    },
    "delivered": {
        "en": (
            "Delivered: inspect before confirming",
            "Delivered on {delivered}.{refund}",
            "Film or photograph the unboxing and check the item; confirm receipt only if everything is right. "
            "If not, contact the seller and keep the photos.",
        ),
        "fr": (
            "Livré : vérifiez avant de confirmer",
            "Livré le {delivered}.{refund}",
            "Filmez ou photographiez le déballage et vérifiez l'article ; ne confirmez la réception que si tout "
            "est en ordre. Sinon, contactez le vendeur et gardez les photos.",
        ),
    },
    "refund_window_ending": {
        "en": (
            "Refund window closes in {left}",
            "A refund after delivery can be requested only {deadline}.{holiday}",
            "If anything is wrong with the item, ask for the refund now, with photos; after that date it is "
            "too late.",
        ),
        "fr": (
            "La période de remboursement se termine dans {left}",
            "Un remboursement après livraison ne peut être demandé qu'{deadline}.{holiday}",
            "Si l'article pose le moindre problème, demandez le remboursement maintenant, photos à l'appui ; "
            "après cette date il sera trop tard.",
        ),
    },
    "dispute_followup": {
        "en": (
            "Dispute: time to send proof to the mediator",
            "{opened}The mediator asked you to wait until {wait_until}; that day has come.",
            "Now, attach proof that tracking still shows no delivery (a dated screenshot or this program's "
            "report). Never close the dispute on a promise; a seller asking you to close it or offering a "
            "refund outside the platform is a known scam.",
        ),
        "fr": (
            "Litige : le moment d'envoyer la preuve au médiateur",
            "{opened}Le médiateur vous a demandé d'attendre jusqu'au {wait_until} ; ce jour est arrivé.",
            "Maintenant, joignez la preuve que le suivi n'indique toujours pas de livraison (capture datée ou "
            "rapport de ce programme). Ne fermez jamais le litige sur une promesse ; un vendeur qui demande de "
            "le fermer ou propose un remboursement hors plateforme est une arnaque connue.",
        ),
    },
    "long_wait": {
        "en": (
            "Waiting for {age}",
            "Ordered on {ordered}: {age} without delivery. A parcel this late will probably not arrive.",
            "Open a \u201cnot received\u201d dispute: at this point it will very likely succeed. Attach the "
            "tracking history and your messages with the seller.",
        ),
        "fr": (
            "En attente depuis {age}",
            "Commandé le {ordered} : {age} sans livraison. Un colis aussi en retard n'arrivera probablement pas.",
            "Ouvrez un litige « non reçu » : à ce stade il a de très bonnes chances d'aboutir. Joignez "
            "l'historique de suivi et vos échanges avec le vendeur.",
        ),
    },
    "source_failing": {
        "en": (
            "Tracking source failing: {carrier}",
            "{carrier} has been failing since {since} for {tracking}: {error}. Deadline alerts keep working.",
            "Check the tracking on the carrier's website by hand; if this lasts, check the carrier's API key "
            "or settings.",
        ),
        "fr": (
            "Source de suivi en échec : {carrier}",
            "{carrier} échoue depuis le {since} pour {tracking} : {error}. Les alertes d'échéance continuent.",
            "Vérifiez le suivi à la main sur le site du transporteur ; si cela dure, vérifiez la clé d'API ou "
            "les réglages du transporteur.",
        ),
    },
    "carrier_rejected": {
        "en": (
            "{carrier} refused its credentials",
            "{carrier} refused the credentials: {error}. {numbers} can no longer be checked with it; "
            "the deadline rules keep running.",
            "Check [carriers.{carrier}] in the watchlist (or {env}); the key is tried again as soon as the watchlist "
            "is reloaded or the service restarted.",
        ),
        "fr": (
            "{carrier} a refusé ses identifiants",
            "{carrier} a refusé les identifiants : {error}. Il ne peut plus vérifier {numbers} ; les règles "
            "d'échéance continuent de tourner.",
            "Vérifiez [carriers.{carrier}] dans la liste (ou {env}) ; la clé est réessayée dès que la liste est "
            "rechargée ou le service redémarré.",
        ),
    },
    "untracked": {
        "en": (
            "Tracking number not followed: {tracking}",
            "No tracking source in your configuration can ask about {tracking}, so tracking-monitor cannot tell you "
            "when it stalls, goes back or is delivered ({why}). Deadline alerts for this order keep working.",
            "Add what the first carrier named needs (an API key in the environment or [carriers.<id>], or "
            "enabled = true), or set carrier = \"…\" if you know the carrier; the change is picked up at once.",
        ),
        "fr": (
            "Numéro de suivi non suivi : {tracking}",
            "Aucune source de suivi de votre configuration ne peut interroger {tracking} : tracking-monitor ne "
            "pourra pas vous dire s'il est bloqué, renvoyé ou livré ({why}). Les alertes d'échéance de cette "
            "commande continuent.",
            "Ajoutez ce qu'il faut au premier transporteur nommé (une clé d'API dans l'environnement ou "
            "[carriers.<id>], ou enabled = true), ou indiquez carrier = \"…\" si vous le connaissez ; la "
            "modification est prise en compte aussitôt.",
        ),
    },
    "pickup_waiting": {
        "en": (
            "{headline}",
            "Since {since} the parcel has been waiting at a pickup point{last_where}: \u201c{last_text}\u201d. "
            "{kept}{hold}.",
            "{todo} Bring an ID and the tracking number {numbers}. A parcel sent back unclaimed is hard to dispute: "
            "tracking shows it was available.",
        ),
        "fr": (
            "{headline}",
            "Depuis le {since}, le colis attend dans un point de retrait{last_where} : « {last_text} ». "
            "{kept}{hold}.",
            "{todo} Munissez-vous d'une pièce d'identité et du numéro de suivi {numbers}. Un colis renvoyé faute "
            "de retrait se conteste mal : le suivi montre qu'il était disponible.",
        ),
    },
    "check_failed": {
        "en": (
            "Order {order} could not be checked",
            "tracking-monitor failed while checking this order ({error}), so its alerts may be missing. Every "
            "other order is checked as usual.",
            "Look at this order's dates and values in the watchlist (tracking-monitor validate) and check its "
            "deadlines by hand until this alert stops; if the values look right, report it as a bug with the "
            "log line that names the order.",
        ),
        "fr": (
            "La commande {order} n'a pas pu être vérifiée",
            "tracking-monitor a échoué en vérifiant cette commande ({error}) : ses alertes peuvent manquer. "
            "Toutes les autres commandes sont vérifiées normalement.",
            "Relisez les dates et valeurs de cette commande dans la liste (tracking-monitor validate) et "
            "surveillez ses échéances à la main tant que cette alerte revient ; si tout paraît juste, signalez un "
            "bogue avec la ligne du journal qui nomme la commande.",
        ),
    },
    "config_rejected": {
        "en": (
            "Watchlist edit rejected",
            "The edited watchlist has problems, so the previous version keeps running:\n{problems}",
            "Fix the file (tracking-monitor validate shows the same lines); it is picked up as soon as it is valid.",
        ),
        "fr": (
            "Modification de la liste refusée",
            "La liste modifiée contient des erreurs, la version précédente reste en service :\n{problems}",
            "Corrigez le fichier (tracking-monitor validate affiche les mêmes lignes) ; il est repris dès qu'il est "
            "valide.",
        ),
    },
    "mail_failing": {
        "en": (
            "Order mails cannot be read from {account}",
            "tracking-monitor could not read new mail from {account}: {error}. Orders and tracking numbers in mails "
            "that arrive meanwhile are read once it works again; everything else is watched as usual.",
            "Check [import.imap] in the watchlist and the password in the secret {secret}; the mailbox is tried "
            "again every {every}, and this alert comes once until it works.",
        ),
        "fr": (
            "Les courriels de commande ne peuvent pas être lus dans {account}",
            "tracking-monitor n'a pas pu lire les nouveaux courriels de {account} : {error}. Les commandes et "
            "numéros de suivi des courriels arrivés entre-temps seront lus dès que cela remarchera ; tout le reste "
            "est surveillé normalement.",
            "Vérifiez [import.imap] dans la liste et le mot de passe du secret {secret} ; la boîte est réessayée "
            "toutes les {every}, et cette alerte ne revient pas tant qu'elle ne remarche pas.",
        ),
    },
    "state_damaged": {
        "en": (
            "tracking-monitor stopped: its state file is damaged",
            "{error}\nNo order is watched and no alert is sent until the state is restored.",
            "Restore the latest backup as the README's \"State\" section says (stop the service, copy the backup "
            "over the state file, start it again); alerts sent since that backup may come once more.",
        ),
        "fr": (
            "tracking-monitor s'est arrêté : son fichier d'état est endommagé",
            "{error}\nAucune commande n'est surveillée et aucune alerte n'est envoyée tant que l'état n'est pas "
            "restauré.",
            "Restaurez la dernière sauvegarde comme l'explique la section « State » du README (arrêter le service, "
            "copier la sauvegarde sur le fichier d'état, le redémarrer) ; les alertes envoyées depuis cette "
            "sauvegarde peuvent revenir une fois.",
        ),
    },
}

EVENT_KIND_NAMES = {
    "en": {
        "customs_held": "held in customs", "delivery_failed": "delivery failed",
        "address_problem": "address problem", "returning": "returning to sender",
        "returned": "returned to sender", "cancelled": "cancelled", "lost": "lost",
        "damaged": "damaged", "exception": "carrier exception",
    },
    "fr": {
        "customs_held": "retenu en douane", "delivery_failed": "échec de livraison",
        "address_problem": "problème d'adresse", "returning": "retour à l'expéditeur en cours",
        "returned": "renvoyé à l'expéditeur", "cancelled": "annulé", "lost": "perdu",
        "damaged": "endommagé", "exception": "incident transporteur",
    },
}

FRAGMENTS = {
    "en": {
        "not_set": "not set",
        # `check --now` and `--dry-run` print each alert under a header of their own, in the alert's language.
        "preview_dry": "dry run",
        "preview_at": "preview at {when}",
        "preview_alert": "({label}) order {order}: {title}",
        "at": " at {where}",
        "holiday": " Warned {shift} early: {holidays} fall in this period, when Chinese sellers answer slowly "
        "or not at all.",
        "span": "{name} ({first} to {last})",
        "day": "{name} ({first})",
        "and": " and ",
        "watch": "Nothing to do yet; keep an eye on {what}.",
        "watch_promised": "the promised date ({date})",
        "watch_protection": "buyer protection (to use {date})",
        "watch_none": "the order's dates",
        "computed": " Computed: {length} after {anchor} ({start}); source: {source}.",
        "estimate": " An estimate, not a published limit: {length} after {anchor} ({start}); source: {source}.",
        "unknown_yet": "not known yet",
        "next_open": " {window} is still open until {deadline}.",
        "next_opens": " {window} opens on {opens} and stays open until {deadline}.",
        "next_typed": "Open a \u201cnot received\u201d dispute on the marketplace before buyer protection ends, or get it "
        "extended and check the new date.",
        "next_none": "No other protection window is known for this order: check with the platform and your payment "
        "provider whether a claim is still possible, and keep the tracking history as evidence.",
        "typed_title": "Buyer protection",
        "typed_source": "protection_ends in the watchlist",
        "opened": "The dispute was opened on {date}. ",
        "refund": " A refund can still be requested {deadline}.",
        "pickup_waiting": "Parcel waiting at a pickup point: collect it by {deadline}",
        "pickup_last_days": "Collect your parcel: the pickup point keeps it {left} more",
        "pickup_ended": "Pickup hold over: the parcel may be going back",
        "pickup_todo": "Collect it before {deadline}; if you cannot, ask the carrier to extend the hold or to "
        "deliver it again.",
        "pickup_todo_ended": "Call the pickup point or the carrier today: collect it if it is still there; if it is "
        "going back, tell the seller in the marketplace's messages before opening a dispute.",
        "kept": "It is kept until {deadline}",
        "kept_ended": "It was kept until {deadline}",
        "hold_published": " ({hold}: {source}; set pickup_hold if the notice gives another date)",
        "hold_estimate": " (an estimate of {hold}: this carrier publishes no hold; set pickup_hold to the date on "
        "the notice)",
        "hold_set": " ({hold}, your pickup_hold)",
        "local_number": " (at the local carrier: {number})",
    },
    "fr": {
        "preview_dry": "essai à blanc",
        "preview_at": "aperçu au {when}",
        "preview_alert": "({label}) commande {order} : {title}",
        "not_set": "non renseignée",
        "at": " à {where}",
        "holiday": " Alerte avancée de {shift} : {holidays} tombent dans cette période, où les vendeurs chinois "
        "répondent lentement ou pas du tout.",
        "span": "{name} (du {first} au {last})",
        "day": "{name} (le {first})",
        "and": " et ",
        "watch": "Rien à faire pour l'instant ; surveillez {what}.",
        "watch_promised": "la date promise ({date})",
        "watch_protection": "la protection acheteur (à utiliser {date})",
        "watch_none": "les dates de la commande",
        "computed": " Date calculée : {length} après {anchor} ({start}) ; source : {source}.",
        "estimate": " Une estimation, pas une limite publiée : {length} après {anchor} ({start}) ; source : {source}.",
        "unknown_yet": "pas encore connue",
        "next_open": " Reste possible : {window}, jusqu'au {deadline}.",
        "next_opens": " Reste possible : {window}, du {opens} au {deadline}.",
        "next_typed": "Ouvrez un litige « non reçu » sur la plateforme avant la fin de la protection acheteur, ou "
        "obtenez une prolongation et vérifiez la nouvelle date.",
        "next_none": "Aucune autre protection n'est connue pour cette commande : vérifiez auprès de la plateforme et "
        "de votre moyen de paiement si une réclamation est encore possible, et gardez l'historique de suivi comme "
        "preuve.",
        "typed_title": "Protection acheteur",
        "typed_source": "protection_ends dans la liste",
        "opened": "Le litige a été ouvert le {date}. ",
        "refund": " Un remboursement peut encore être demandé {deadline}.",
        "pickup_waiting": "Colis en attente dans un point de retrait : à retirer avant le {deadline}",
        "pickup_last_days": "Retirez votre colis : le point de retrait le garde encore {left}",
        "pickup_ended": "Délai de retrait dépassé : le colis repart peut-être",
        "pickup_todo": "Retirez-le avant le {deadline} ; si vous ne pouvez pas, demandez au transporteur de "
        "prolonger la garde ou de le livrer à nouveau.",
        "pickup_todo_ended": "Appelez aujourd'hui le point de retrait ou le transporteur : retirez le colis s'il y "
        "est encore ; s'il repart, prévenez le vendeur par la messagerie de la plateforme avant d'ouvrir un litige.",
        "kept": "Il y est gardé jusqu'au {deadline}",
        "kept_ended": "Il y était gardé jusqu'au {deadline}",
        "hold_published": " ({hold}, délai publié par le transporteur ; indiquez pickup_hold si l'avis donne une "
        "autre date)",
        "hold_estimate": " (estimation de {hold} : ce transporteur ne publie pas de délai ; indiquez pickup_hold "
        "selon l'avis de mise en instance)",
        "hold_set": " ({hold}, votre pickup_hold)",
        "local_number": " (chez le transporteur local : {number})",
    },
}


def holiday_span(name: str, first: date, last: date, lang: str) -> str:
    """'National Day (1 Oct 2026 to 7 Oct 2026)', or one date for a one-day holiday."""
    name = holiday_name(name, lang)
    if first == last:
        return fragment("day", lang, name=name, first=fmt_date(first, lang))
    return fragment("span", lang, name=name, first=fmt_date(first, lang), last=fmt_date(last, lang))


def join(parts: list[str], lang: str) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + fragment("and", lang) + parts[-1]


def fragment(piece: str, lang: str, /, **params: Any) -> str:
    """A reusable piece of a message."""
    return FRAGMENTS[lang][piece].format(**params)


def render(kind: str, lang: str, **params: Any) -> tuple[str, str, str]:
    """(title, message, action) for a finding kind in a language."""
    title, message, action = CATALOG[kind][lang]
    return title.format(**params), message.format(**params), action.format(**params)
