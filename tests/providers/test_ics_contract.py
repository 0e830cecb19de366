"""The ICS provider meets the provider contract, reading the fixture files themselves."""

import pytest

from calendar_providers.ics import IcsProvider
from tests.providers.contract import ProviderContract


class TestIcsContract(ProviderContract):
    @pytest.fixture
    def serve(self, ics_fixture):
        return lambda name, me=None: IcsProvider(ics_fixture(name), me=me)

    @pytest.fixture
    def unreachable(self, tmp_path):
        return IcsProvider(str(tmp_path / "gone.ics"))
