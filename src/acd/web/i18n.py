"""The console's words, Spanish first and English beside them.

A message catalogue as plain dicts: no gettext toolchain to run, and a page module adds
its own words with a ``MESSAGES = {"es": {...}, "en": {...}}`` of its own (merged by
:func:`acd.web.pages.discover`).  A key missing in English falls back to Spanish, and a
key missing in both shows as itself, so a forgotten word is visible, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
LANGUAGE_NAMES = {"es": "Español", "en": "English"}

CATALOGUE: dict[str, dict[str, str]] = {
    "es": {
        "app.title": "Consola ACD",
        "nav.home": "Inicio",
        "nav.users": "Usuarios",
        "nav.audit": "Auditoría",
        "nav.logout": "Cerrar sesión",
        "login.title": "Iniciar sesión",
        "login.name": "Usuario",
        "login.password": "Contraseña",
        "login.submit": "Entrar",
        "login.bad": "Usuario o contraseña incorrectos.",
        "login.locked": "Demasiados intentos fallidos. Intente de nuevo más tarde.",
        "login.blocked": "Demasiados intentos fallidos desde esta dirección. Intente de nuevo más tarde.",
        "login.expired": "Su sesión expiró por inactividad. Inicie sesión nuevamente.",
        "login.logged_out": "Sesión cerrada.",
        "home.title": "Inicio",
        "home.welcome": "Bienvenido/a, {name}.",
        "home.role": "Rol: {role}",
        "home.nothing": "Su rol no tiene páginas en esta consola todavía.",
        "error.forbidden": "No tiene permiso para ver esta página.",
        "error.csrf": "El formulario expiró o no es válido. Vuelva a cargar la página e intente de nuevo.",
        "error.not_found": "Página no encontrada.",
        "error.store": "La base de datos de la consola no responde. Intente de nuevo en un momento.",
        "users.title": "Usuarios",
        "users.name": "Usuario",
        "users.full_name": "Nombre completo",
        "users.role": "Rol",
        "users.state": "Estado",
        "users.active": "activo",
        "users.disabled": "deshabilitado",
        "users.locked": "bloqueado",
        "users.add": "Agregar usuario",
        "users.password": "Contraseña",
        "users.new_password": "Nueva contraseña",
        "users.reset": "Cambiar contraseña",
        "users.disable": "Deshabilitar",
        "users.enable": "Habilitar",
        "users.tokens": "Tokens de API",
        "users.token_label": "Uso del token",
        "users.token_scopes": "Permisos (ninguno marcado: todo el rol)",
        "users.issue": "Emitir token",
        "users.revoke": "Revocar",
        "users.token_once": "Token #{id} para {name}. Cópielo ahora: no se volverá a mostrar.",
        "users.done": "Hecho.",
        "users.self": "No puede deshabilitar su propia cuenta.",
        "audit.title": "Registro de auditoría",
        "audit.when": "Cuándo",
        "audit.who": "Quién",
        "audit.action": "Acción",
        "audit.target": "Objeto",
        "audit.address": "Dirección",
        "audit.detail": "Detalle",
        "audit.filter": "Filtrar",
        "audit.older": "Más antiguos",
        "audit.readonly": "El registro de auditoría no se puede modificar.",
        "account.title": "Mi cuenta",
        "account.current": "Contraseña actual",
        "account.new": "Nueva contraseña (10 caracteres o más)",
        "account.change": "Cambiar contraseña",
        "account.changed": "Contraseña cambiada.",
        "account.wrong_current": "La contraseña actual no es correcta.",
        "role.admin": "administrador",
        "role.supervisor": "supervisor",
        "role.viewer": "cliente (solo lectura)",
        "role.qa": "calidad",
        "role.agent": "agente",
    },
    "en": {
        "app.title": "ACD console",
        "nav.home": "Home",
        "nav.users": "Users",
        "nav.audit": "Audit log",
        "nav.logout": "Log out",
        "login.title": "Log in",
        "login.name": "User name",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.bad": "Wrong user name or password.",
        "login.locked": "Too many failed attempts. Try again later.",
        "login.blocked": "Too many failed attempts from this address. Try again later.",
        "login.expired": "Your session expired after inactivity. Please log in again.",
        "login.logged_out": "Logged out.",
        "home.title": "Home",
        "home.welcome": "Welcome, {name}.",
        "home.role": "Role: {role}",
        "home.nothing": "Your role has no pages in this console yet.",
        "error.forbidden": "You are not allowed to see this page.",
        "error.csrf": "The form expired or is not valid. Reload the page and try again.",
        "error.not_found": "Page not found.",
        "error.store": "The console's database is not answering. Try again in a moment.",
        "users.title": "Users",
        "users.name": "User name",
        "users.full_name": "Full name",
        "users.role": "Role",
        "users.state": "State",
        "users.active": "active",
        "users.disabled": "disabled",
        "users.locked": "locked",
        "users.add": "Add user",
        "users.password": "Password",
        "users.new_password": "New password",
        "users.reset": "Set password",
        "users.disable": "Disable",
        "users.enable": "Enable",
        "users.tokens": "API tokens",
        "users.token_label": "What the token is for",
        "users.token_scopes": "Permissions (none ticked: the whole role)",
        "users.issue": "Issue token",
        "users.revoke": "Revoke",
        "users.token_once": "Token #{id} for {name}. Copy it now: it will not be shown again.",
        "users.done": "Done.",
        "users.self": "You cannot disable your own account.",
        "audit.title": "Audit log",
        "audit.when": "When",
        "audit.who": "Who",
        "audit.action": "Action",
        "audit.target": "Target",
        "audit.address": "Address",
        "audit.detail": "Detail",
        "audit.filter": "Filter",
        "audit.older": "Older",
        "audit.readonly": "The audit log cannot be changed.",
        "account.title": "My account",
        "account.current": "Current password",
        "account.new": "New password (10 characters or more)",
        "account.change": "Change password",
        "account.changed": "Password changed.",
        "account.wrong_current": "The current password is not right.",
        "role.admin": "administrator",
        "role.supervisor": "supervisor",
        "role.viewer": "client (read-only)",
        "role.qa": "quality",
        "role.agent": "agent",
    },
}


def add_messages(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Merge a page's own words into the catalogue (a key already there is kept: first wins)."""
    for language, words in messages.items():
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
        for key, text in words.items():
            CATALOGUE[language].setdefault(key, text)


@dataclass(frozen=True)
class Message:
    """A key with its values, to be put in words when the page's language is known.

    Pages pass one where a template expects a key (``error``, ``notice``), e.g. a store's
    refusal with the name it refused (:mod:`acd.web.account_errors`)."""

    key: str
    values: Mapping[str, object] = field(default_factory=dict)


def translate(language: str, key: "str | Message", **values: object) -> str:
    if isinstance(key, Message):
        key, values = key.key, {**key.values, **values}
    text = CATALOGUE.get(language, {}).get(key) or CATALOGUE[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**values) if values else text


def pick_language(cookie: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    return cookie if cookie in LANGUAGES else default
