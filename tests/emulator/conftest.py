"""Fixtures for the emulator tests: a live emulator, a plaid-python client, the admin API."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import plaid
import pytest
import yaml

# Loads about 2,300 models (~2 s); imported once for the whole session.
from plaid.api.plaid_api import PlaidApi

from plaid_emulator import (
    RunningEmulator,
    default_scenario_path,
    load_scenario,
    parse_scenario,
    start_emulator,
)
from plaid_emulator.engine import utc_now
from plaid_emulator.server import Sleep
from tests.plaid_schema import PlaidSchema
from tests.plaid_schema import plaid_schema as load_plaid_schema

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

    async def raw(self, path: str, body: object) -> tuple[int, str, bytes]:
        """POST with Plaid credentials; status, Content-Type and the body undecoded."""
        url = f"{self.url}{path}"
        async with self.session.post(url, json=body, headers=PLAID_HEADERS) as resp:
            return resp.status, resp.headers["Content-Type"], await resp.read()

    async def fault(self, *faults: dict[str, Any]) -> list[dict[str, Any]]:
        """Queue faults (one object, or a list when several); what is now queued."""
        body = faults[0] if len(faults) == 1 else list(faults)
        status, answer = await self.request("POST", "/_emulator/faults", body)
        assert status == 200, answer
        queued: list[dict[str, Any]] = answer["faults"]
        return queued


class FakeClock:
    """The emulator's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingSleep:
    """Stands in for asyncio.sleep: notes each wait the emulator asks for, in seconds,
    and returns at once, so a test checks the delay without spending it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# Only a broken emulator takes this long to reach a state a test waits for: the bound
# turns a hang into a failure, and a passing test never comes near it.
_HANG_GUARD_S = 10.0


class HeldSleep:
    """Stands in for asyncio.sleep: each wait lasts until the test calls release().

    A test sees which calls are waiting at a given moment, as real time never shows
    reliably, and whether a wait ended by cancellation rather than by release.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.holding = 0
        self.cancelled = 0
        self._released = asyncio.Event()
        self._changed = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._count_holding(+1)
        try:
            await self._released.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self._count_holding(-1)

    def release(self) -> None:
        """End every wait, now and from now on."""
        self._released.set()

    async def until_holding(self, count: int) -> None:
        """Return once exactly `count` waits are in progress."""
        async with asyncio.timeout(_HANG_GUARD_S):
            while self.holding != count:
                await self._changed.wait()
                self._changed.clear()

    def _count_holding(self, change: int) -> None:
        self.holding += change
        self._changed.set()


StartEmulator = Callable[..., Awaitable[RunningEmulator]]


@pytest.fixture
async def start() -> AsyncIterator[StartEmulator]:
    """Start emulators on other scenarios, clocks or sleeps; each is closed after the test."""
    started: list[RunningEmulator] = []

    async def start_one(
        scenario: dict[str, Any] | None = None,
        clock: FakeClock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> RunningEmulator:
        parsed = None if scenario is None else parse_scenario(scenario)
        running = await start_emulator(parsed, clock=clock or utc_now, sleep=sleep)
        started.append(running)
        return running

    yield start_one
    for running in started:
        await running.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def _default_scenario_text() -> str:
    return default_scenario_path().read_text()


@pytest.fixture
def default_scenario_data(_default_scenario_text: str) -> dict[str, Any]:
    """The default scenario as plain data, fresh for each test to change."""
    data: dict[str, Any] = yaml.safe_load(_default_scenario_text)
    return data


@pytest.fixture
def deprecated_fields() -> bool:
    """The `emulator` fixture's deprecated_fields: off, Plaid's documented shape.

    A module whose tests read STS answers through plaid-python 46's type-checked models
    overrides this to True: those models require the deprecated risk_tier.
    """
    return False


@pytest.fixture
async def emulator(deprecated_fields: bool) -> AsyncIterator[RunningEmulator]:
    """The packaged scenario on a free loopback port."""
    scenario = load_scenario(default_scenario_path())
    if deprecated_fields:
        scenario = scenario.model_copy(update={"deprecated_fields": True})
    running = await start_emulator(scenario)
    yield running
    await running.close()


@pytest.fixture
def plaid_client(emulator: RunningEmulator) -> Iterator[PlaidApi]:
    with plaid_api(emulator.url) as api:
        yield api


@pytest.fixture
def lax_plaid_client(emulator: RunningEmulator) -> Iterator[PlaidApi]:
    """A client that skips its own length checks, to reach the emulator's."""
    with plaid_api(emulator.url, disabled="maxLength,minLength") as api:
        yield api


@contextlib.contextmanager
def plaid_api(url: str, disabled: str = "", **settings: Any) -> Iterator[PlaidApi]:
    """A plaid-python client for the emulator at `url`; `settings` go on its config."""
    cfg = plaid.Configuration(
        host=url,
        api_key={"clientId": CLIENT_ID, "secret": SECRET},
        disabled_client_side_validations=disabled,
    )
    for name, value in settings.items():
        setattr(cfg, name, value)
    api_client = plaid.ApiClient(cfg)
    yield PlaidApi(api_client)
    # Close pooled keep-alive sockets before the server goes (no ResourceWarning).
    api_client.rest_client.pool_manager.clear()


@pytest.fixture
async def admin(emulator: RunningEmulator) -> AsyncIterator[Admin]:
    async with aiohttp.ClientSession() as session:
        yield Admin(session, emulator.url)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def plaid_schema() -> PlaidSchema:
    """Loaded once per process: the document is 3 MB of YAML."""
    return load_plaid_schema()
