"""Fixtures for the emulator tests: a live emulator, a plaid-python client, the admin API."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import plaid
import pytest
import yaml

# Loads about 2,300 models (~2 s); imported once for the whole session.
from plaid.api.plaid_api import PlaidApi

from service.emulator import RunningEmulator, default_scenario_path, start_emulator

CLIENT_ID = "test-client"
SECRET = "test-secret"
PLAID_HEADERS = {"PLAID-CLIENT-ID": CLIENT_ID, "PLAID-SECRET": SECRET}


class Admin:
    """Raw HTTP access to an emulator: the admin API and hand-made Plaid requests."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def calls(self) -> list[dict[str, Any]]:
        async with self.session.get(f"{self.url}/_emulator/calls") as resp:
            assert resp.status == 200
            calls: list[dict[str, Any]] = (await resp.json())["calls"]
            return calls

    async def last_call(self) -> dict[str, Any]:
        return (await self.calls())[-1]

    async def post(
        self, path: str, body: object, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = PLAID_HEADERS if headers is None else headers
        async with self.session.post(f"{self.url}{path}", json=body, headers=sent) as r:
            assert r.content_type == "application/json"
            return r.status, await r.json()

    async def request(
        self, method: str, path: str, body: object = None, data: bytes | None = None
    ) -> tuple[int, Any]:
        url = f"{self.url}{path}"
        json_body = None if data is not None else body
        async with self.session.request(method, url, json=json_body, data=data) as resp:
            assert resp.content_type == "application/json"
            return resp.status, await resp.json()


@pytest.fixture(scope="session")
def _default_scenario_text() -> str:
    return default_scenario_path().read_text()


@pytest.fixture
def default_scenario_data(_default_scenario_text: str) -> dict[str, Any]:
    """The default scenario as plain data, fresh for each test to change."""
    data: dict[str, Any] = yaml.safe_load(_default_scenario_text)
    return data


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator()
    yield running
    await running.close()


@pytest.fixture
def plaid_client(emulator: RunningEmulator) -> Iterator[PlaidApi]:
    yield from _client(emulator.url)


@pytest.fixture
def lax_plaid_client(emulator: RunningEmulator) -> Iterator[PlaidApi]:
    """A client that skips its own length checks, to reach the emulator's."""
    yield from _client(emulator.url, disabled="maxLength,minLength")


def _client(url: str, disabled: str | None = None) -> Iterator[PlaidApi]:
    cfg = plaid.Configuration(
        host=url,
        api_key={"clientId": CLIENT_ID, "secret": SECRET},
        disabled_client_side_validations=disabled or "",
    )
    api_client = plaid.ApiClient(cfg)
    yield PlaidApi(api_client)
    # Close pooled keep-alive sockets before the server goes (no ResourceWarning).
    api_client.rest_client.pool_manager.clear()


@pytest.fixture
async def admin(emulator: RunningEmulator) -> AsyncIterator[Admin]:
    async with aiohttp.ClientSession() as session:
        yield Admin(session, emulator.url)
