"""``comptoir doctor``'s outgoing-mail check: can the relay be reached and does it accept us?

It says which step failed (connection, EHLO, STARTTLS, login) and the server's own answer.
The administrator's home runs the same checks on every visit, so a result is kept a few
minutes, and the connection waits at most ``CHECK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import smtplib
import ssl
import time

from django.conf import settings
from django.utils.translation import gettext as _

from comptoir.core.health import Check

CHECK_TIMEOUT = 10  # seconds
CACHE_SECONDS = 300
_cache: dict[tuple[object, ...], tuple[float, Check]] = {}


def is_configured() -> bool:
    """Mail goes out through SMTP only when a relay host is set (another backend, as in
    tests or a console backend, needs none)."""
    if settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend":
        return True
    return bool(settings.EMAIL_HOST)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


def probe_relay(timeout: float | None = None) -> tuple[bool, str]:
    """Connect, EHLO, STARTTLS when configured, log in when credentials are set; returns
    whether it all worked and what happened (the failing step and the server's answer)."""
    host, port = settings.EMAIL_HOST, int(settings.EMAIL_PORT)
    where = f"{host}:{port}"
    wait = min(float(settings.EMAIL_TIMEOUT or CHECK_TIMEOUT), timeout or CHECK_TIMEOUT)
    step = _("connecting to %(where)s") % {"where": where}
    try:
        client: smtplib.SMTP
        if settings.EMAIL_USE_SSL:
            client = smtplib.SMTP_SSL(host, port, timeout=wait,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=wait)
        try:
            step = "EHLO"
            code, answer = client.ehlo()
            if code != 250:
                return False, _("%(step)s refused by %(where)s: %(reply)s") % {
                    "step": step, "where": where,
                    "reply": f"{code} {answer.decode('utf-8', 'replace')}"}
            if settings.EMAIL_USE_TLS:
                step = "STARTTLS"
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if settings.EMAIL_HOST_USER:
                step = _("login as %(user)s") % {"user": settings.EMAIL_HOST_USER}
                client.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except smtplib.SMTPResponseException as exc:
        return False, _("%(step)s failed: %(reply)s") % {"step": step, "reply": _reply(exc)}
    except smtplib.SMTPNotSupportedError as exc:
        return False, _("%(step)s failed: %(reply)s") % {"step": step, "reply": str(exc)}
    except (smtplib.SMTPException, OSError) as exc:
        return False, _("%(step)s failed: %(reply)s") % {
            "step": step, "reply": str(exc) or exc.__class__.__name__}
    done = _("EHLO accepted") + (", STARTTLS" if settings.EMAIL_USE_TLS else "") \
        + (", " + _("logged in") if settings.EMAIL_HOST_USER else "")
    return True, f"{where}: {done}"


def smtp_checks() -> list[Check]:
    """The doctor's line for outgoing mail (registered in ``MailConfig.ready``)."""
    name = _("Outgoing mail (SMTP)")
    if settings.EMAIL_BACKEND != "django.core.mail.backends.smtp.EmailBackend":
        # "locmem", "console"…: short, it is shown on the administrator's home
        short = settings.EMAIL_BACKEND.rsplit(".", 2)[-2] if "." in settings.EMAIL_BACKEND \
            else settings.EMAIL_BACKEND
        return [Check("smtp", name, "ok", _("backend %(backend)s") % {"backend": short})]
    if not settings.EMAIL_HOST:
        return [Check("smtp", name, "warning", _("not configured"),
                      _("Set COMPTOIR_SMTP_HOST (and COMPTOIR_SMTP_PORT, COMPTOIR_SMTP_USER, "
                        "COMPTOIR_SMTP_PASSWORD, COMPTOIR_SMTP_FROM) to send e-mail from "
                        "Comptoir."))]
    key = (settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_HOST_USER,
           settings.EMAIL_HOST_PASSWORD, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return [cached[1]]
    ok, detail = probe_relay()
    check = Check("smtp", name, "ok" if ok else "error", detail,
                  "" if ok else _("Check the COMPTOIR_SMTP_* settings and that this machine "
                                  "may reach the relay; e-mails wait in the queue meanwhile."))
    _cache.clear()
    _cache[key] = (time.monotonic(), check)
    return [check]
