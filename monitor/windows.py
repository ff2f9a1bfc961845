"""Buyer-protection windows by marketplace and payment: one data table (figures from domain.md), and a watchlist's
`[windows.<name>]` overrides of it, because platforms change their terms."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

Texts = tuple[str, str]  # (English, French)
# The marketplaces an order's `shop` names (any case), each with its name as the buyer's notes spell it.
MARKETPLACES = {"aliexpress": "AliExpress", "temu": "Temu", "ebay": "eBay", "amazon": "Amazon", "alibaba": "Alibaba"}
PAYMENTS = ("paypal", "card", "marketplace")  # "marketplace": its own wallet or balance, covered by its rows alone
# What a window is counted from; a row lists them in order of preference, the first one the order has is used.
ANCHORS = ("ordered", "delivery", "estimated_delivery", "completion")
# What an anchor is, in words, in the messages that say a date is computed.
ANCHOR_NAMES: dict[str, tuple[str, str]] = {
    "ordered": ("the order date", "la date de commande"),
    "delivery": ("the delivery", "la livraison"),
    "estimated_delivery": ("the estimated delivery date", "la date de livraison estimée"),
    "completion": ("the order's completion (protection_ends)", "la clôture de la commande (protection_ends)"),
}
TYPED = "protection_ends"  # the name of the window the buyer typed, in findings and status rows



# eq=False: a row is hashed by identity, as the rules' caches take it for every order; tables compare rows by value.
@dataclass(frozen=True, slots=True, eq=False)
class Window:
    """One row of the table: a protection window, what it is counted from, and what the buyer does in it."""

    name: str  # the row's key, as in [windows.<name>] and the findings' `window`
    applies_to: str  # a marketplace (the order's shop) or a payment (in the order's paid_with)
    title: Texts
    counted_from: tuple[str, ...]  # anchors, first known one wins
    length: timedelta
    action: Texts
    source: str
    estimate: bool = False  # not a published limit (a card issuer's chargeback)
    opens_after: timedelta | None = None  # the window opens this long after its anchor (Amazon A-to-z)
    typed_wins: bool = False  # the marketplace's own protection: a typed protection_ends replaces it
    # Worked out once: the rules ask for every order, and `length % day` costs more than the rest of the sum.
    whole_days: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "whole_days", not (self.length.seconds or self.length.microseconds))

    def text(self, texts: Texts, lang: str) -> str:
        """One of this row's texts in `lang` (en or fr)."""
        return texts[1] if lang == "fr" else texts[0]


_D = timedelta(days=1)
# domain.md: after an order completes (buyer protection over), AliExpress still takes refund requests for 15 days.
AFTER_COMPLETION = 15 * _D

# domain.md, "Protection windows by marketplace and payment" (checked November 2026). The AliExpress countdown
# itself is not here: it is per order and never guessed, so only a typed protection_ends gives it.
DEFAULT_ROWS: tuple[Window, ...] = (
    Window("aliexpress_after_completion", "aliexpress",
           ("AliExpress refund window after completion", "Délai de remboursement AliExpress après clôture"),
           ("completion",), AFTER_COMPLETION,
           ("Ask for a refund on the completed order (open a dispute there) with the tracking history as evidence.",
            "Demandez un remboursement sur la commande clôturée (ouvrez-y un litige), avec l'historique de suivi "
            "comme preuve."),
           "AliExpress help pages on refunds after an order completes"),
    Window("ebay_money_back", "ebay", ("eBay Money Back Guarantee", "Garantie client eBay"),
           ("delivery", "estimated_delivery"), 30 * _D,
           ("Contact the seller in eBay's messages; with no solution after 3 business days, ask eBay to step in.",
            "Contactez le vendeur par la messagerie eBay ; sans solution après 3 jours ouvrés, demandez à eBay "
            "d'intervenir."),
           "eBay Money Back Guarantee pages", typed_wins=True),
    Window("amazon_a_to_z", "amazon", ("Amazon A-to-z Guarantee", "Garantie A à Z d'Amazon"),
           ("estimated_delivery",), 90 * _D,
           ("Contact the seller and wait 48 hours, then file an A-to-z claim (a card chargeback would void it).",
            "Contactez le vendeur et attendez 48 heures, puis déposez une réclamation A à Z (une rétrofacturation "
            "par carte l'annulerait)."),
           "Amazon help: A-to-z Guarantee (third-party sellers)", opens_after=3 * _D, typed_wins=True),
    Window("temu_returns", "temu", ("Temu purchase protection", "Protection des achats Temu"),
           ("ordered",), 90 * _D,
           ("Request a refund or a return in the Temu order; a late delivery also earns a credit if asked within "
            "48 hours of the latest estimated date.",
            "Demandez un remboursement ou un retour dans la commande Temu ; un retard de livraison donne aussi droit "
            "à un crédit s'il est demandé dans les 48 heures après la dernière date estimée."),
           "Temu return-and-refund and late-delivery pages (US terms; may differ elsewhere)", typed_wins=True),
    Window("alibaba_trade_assurance", "alibaba", ("Alibaba Trade Assurance", "Alibaba Trade Assurance"),
           ("delivery",), 30 * _D,
           ("Open a refund request under Trade Assurance; the supplier has 3 days, escalate to Alibaba from day 4.",
            "Ouvrez une demande de remboursement Trade Assurance ; le fournisseur a 3 jours, faites intervenir "
            "Alibaba dès le 4e jour."),
           "Alibaba Trade Assurance service FAQ", typed_wins=True),
    Window("paypal", "paypal", ("PayPal Buyer Protection", "Protection des achats PayPal"),
           ("ordered",), 180 * _D,
           ("Open a dispute in PayPal's Resolution Center and escalate it to a claim within 20 days.",
            "Ouvrez un litige dans le centre de résolution PayPal et transformez-le en réclamation sous 20 jours."),
           "PayPal buyer-protection FAQ (may vary by country)"),
    Window("card_chargeback", "card", ("Card chargeback", "Rétrofacturation par carte"),
           ("estimated_delivery", "ordered"), 120 * _D,
           ("Ask your card issuer for a chargeback (item not received) and attach the evidence report.",
            "Demandez à votre banque une rétrofacturation (article non reçu) et joignez le dossier de preuves."),
           "Visa/Mastercard rule summaries; the real limit depends on your card issuer", estimate=True),
)
NAMES = tuple(w.name for w in DEFAULT_ROWS)


class WindowTable:
    """The effective rows, with the rows each (shop, paid_with) gets worked out once: every cycle asks again."""

    __slots__ = ("rows", "_by_order")

    def __init__(self, rows: tuple[Window, ...]) -> None:
        self.rows = rows
        self._by_order: dict[object, tuple[Window, ...]] = {}

    def applicable(self, shop: str, paid_with: Sequence[str] | None) -> tuple[Window, ...]:
        """The rows of an order with this shop (recognised case-insensitively) and these payments."""
        key: object = (shop, *paid_with) if paid_with else shop
        found = self._by_order.get(key)
        if found is None:
            market = marketplace(shop)
            found = tuple(w for w in self.rows if w.applies_to == market or w.applies_to in (paid_with or ()))
            self._by_order[key] = found
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WindowTable) and [_values(w) for w in self.rows] == [_values(w) for w in other.rows]

    def __hash__(self) -> int:
        return hash(tuple(w.name for w in self.rows))


DEFAULT_TABLE = WindowTable(DEFAULT_ROWS)


def _values(row: Window) -> tuple[object, ...]:
    return tuple(getattr(row, f) for f in Window.__dataclass_fields__)


def marketplace(shop: str) -> str | None:
    """The marketplace an order's shop names ("AliExpress", " ebay "), or None: no marketplace rules."""
    name = shop.strip().casefold()
    return name if name in MARKETPLACES else None


def table(overrides: Mapping[str, Mapping[str, Any]]) -> WindowTable:
    """The shipped table with a watchlist's [windows.<name>] values on top; `enabled = false` drops a row."""
    if not overrides:
        return DEFAULT_TABLE
    rows = []
    for row in DEFAULT_ROWS:
        given = dict(overrides.get(row.name, {}))
        if given.pop("enabled", True) is False:
            continue
        if given:  # the shipped source no longer backs the figures: say whose they are
            given.setdefault("source", f"[windows.{row.name}] in the watchlist")
        for text in ("title", "action"):  # one text the buyer wrote serves both languages
            if text in given:
                given[text] = (given[text], given[text])
        if "counted_from" in given:
            given["counted_from"] = tuple(given["counted_from"])
        rows.append(replace(row, **given))
    return WindowTable(tuple(rows))
