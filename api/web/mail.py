"""Invitation e-mails, sent when an SMTP server is configured.

The server is read from ``QET_SMTP_HOST`` (none: no e-mail, the link is only shown to copy),
``QET_SMTP_PORT`` (587), ``QET_SMTP_USER`` / ``QET_SMTP_PASSWORD`` (optional login),
``QET_SMTP_FROM`` (the sender, default ``qet-geo@<host>``) and ``QET_SMTP_STARTTLS`` (1 by
default; 0 for a local relay). The settings object's ``smtp_*`` fields win when it has them.
"""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from qet_geo.i18n import msg

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send e-mails."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = ""
    starttls: bool = True


def smtp_config(settings: Any = None) -> SmtpConfig | None:
    """Return the SMTP server of the settings or ``QET_SMTP_*`` variables, None if unset."""

    def get(name: str) -> str | None:
        value = getattr(settings, f"smtp_{name}", None)
        if value is None:
            value = os.environ.get(f"QET_SMTP_{name.upper()}")
        return None if value in (None, "") else str(value)

    host = get("host")
    if host is None:
        return None
    return SmtpConfig(
        host=host,
        port=int(get("port") or 587),
        user=get("user"),
        password=get("password"),
        sender=get("from") or f"qet-geo@{host}",
        starttls=(get("starttls") or "1").lower() not in ("0", "false", "no"),
    )


def invitation_message(
    *, sender: str, to: str, link: str, neighbourhood: str | None, lang: str = "fr"
) -> EmailMessage:
    """Build the invitation e-mail: who invites to what, the link, its validity."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = msg("Invitation à l'espace de travail qet-geo").render(lang)
    where = (
        msg("pour le quartier « {name} »", name=neighbourhood).render(lang) if neighbourhood else ""
    )
    message.set_content(
        msg(
            "Bonjour,\n\nVous êtes invité·e à l'espace de travail qet-geo {where}.\n"
            "Choisissez votre mot de passe en ouvrant ce lien (valable 7 jours, une seule "
            "fois) :\n\n{link}\n\nSi vous n'attendiez pas cette invitation, ignorez ce message.\n",
            where=where,
            link=link,
        ).render(lang)
    )
    return message


def send(config: SmtpConfig, message: EmailMessage, *, timeout_s: float = 10.0) -> bool:
    """Send ``message``; return whether the server took it (a failure is logged, not raised)."""
    try:
        with smtplib.SMTP(config.host, config.port, timeout=timeout_s) as server:
            if config.starttls:
                server.starttls()
            if config.user:
                server.login(config.user, config.password or "")
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("invitation e-mail not sent: %s", type(exc).__name__)
        return False
    return True
