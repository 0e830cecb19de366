"""Calendar sources behind one contract (`base.CalendarProvider`), looked up by name.

Providers are imported only when asked for, so the CLI does not pay for Google's client
libraries when it reads an .ics file.
"""

from __future__ import annotations

from importlib import import_module

from calendar_providers.base import CalendarProvider

_REGISTRY = {
    "ics": "calendar_providers.ics:IcsProvider",
    "caldav": "calendar_providers.caldav:CaldavProvider",
    "google": "calendar_providers.google:GoogleProvider",
}


def provider_class(name: str) -> type[CalendarProvider]:
    """The provider class registered under `name`."""
    try:
        module_name, class_name = _REGISTRY[name].split(":")
    except KeyError:
        raise KeyError(f"unknown calendar provider {name!r}") from None
    return getattr(import_module(module_name), class_name)
