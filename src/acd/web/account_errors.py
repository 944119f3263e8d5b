"""The account store's refusals in the page's language.

:class:`acd.accounts.store.AccountError` carries an English line for the command line
and a ``code`` with its ``values``; :func:`account_message` turns it into an
:class:`~acd.web.i18n.Message` the templates put in words (Spanish first), so an admin
on a Spanish page reads "La contraseña es muy corta", not the CLI's English.  A refusal
without a code (a future one, forgotten here) still shows, in English, after a Spanish
lead-in: visible, never a crash.  Login refusals (wrong password, lock-out) are
:class:`~acd.accounts.store.LoginRefused` and have their own words (``login.*``).
"""

from __future__ import annotations

from acd.accounts.store import AccountError
from acd.web.i18n import Message, add_messages

MESSAGES = {
    "es": {
        "account_error.name_invalid": "Nombre de usuario no válido: «{name}». Use de 2 a 64 minúsculas, dígitos, «.», «_» o «-», comenzando por letra o dígito.",
        "account_error.password_short": "La contraseña es muy corta: al menos {min} caracteres.",
        "account_error.password_long": "La contraseña es muy larga: como máximo {max} caracteres.",
        "account_error.role_unknown": "Rol desconocido: «{role}». Roles: {roles}.",
        "account_error.scope_unknown": "Permiso desconocido: «{scope}».",
        "account_error.scope_beyond": "El permiso «{scope}» excede el rol «{role}».",
        "account_error.scope_none": "Marque al menos un permiso (o ninguno: todo el rol).",
        "account_error.store_missing": "No existe el almacén de cuentas {path} (créelo con «acd user add»).",
        "account_error.full_name_required": "Falta el nombre completo: una línea de hasta 200 caracteres (las cuentas son nominativas).",
        "account_error.account_exists": "La cuenta «{name}» ya existe.",
        "account_error.account_unknown": "No existe la cuenta «{name}».",
        "account_error.token_unknown": "No hay un token vigente #{id}.",
        "account_error.other": "Operación rechazada: {detail}",
    },
    "en": {
        "account_error.name_invalid": "Invalid user name '{name}': 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
        "account_error.password_short": "Password too short: at least {min} characters.",
        "account_error.password_long": "Password too long: at most {max} characters.",
        "account_error.role_unknown": "Unknown role '{role}'. Roles: {roles}.",
        "account_error.scope_unknown": "Unknown permission '{scope}'.",
        "account_error.scope_beyond": "Permission '{scope}' is beyond role '{role}'.",
        "account_error.scope_none": "Tick at least one permission (or none: the whole role).",
        "account_error.store_missing": "No account store at {path} (create one with `acd user add`).",
        "account_error.full_name_required": "Full name required: one line of at most 200 characters (accounts are nominative).",
        "account_error.account_exists": "Account '{name}' already exists.",
        "account_error.account_unknown": "No account '{name}'.",
        "account_error.token_unknown": "No live token #{id}.",
        "account_error.other": "Refused: {detail}",
    },
}
add_messages(MESSAGES)

KNOWN = frozenset(key.removeprefix("account_error.") for key in MESSAGES["es"])


def account_message(exc: AccountError) -> Message:
    """What to show for ``exc`` on a page (its own words when the code is known)."""
    if exc.code and exc.code in KNOWN:
        return Message(f"account_error.{exc.code}", dict(exc.values))
    return Message("account_error.other", {"detail": str(exc)})
