"""Loopback stand-ins for outside services, for tests that drive the real client libraries."""
