"""Telling this machine's addresses from others (secrets may travel unencrypted only to it)."""

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether the host name or IP address is this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
