"""Settings.from_environ: TOML file plus environment, every problem named at once."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.adapters.plaid.retry import RetryPolicy
from service.app.decide import Budgets
from service.app.outbox import OutboxPolicy
from service.config.plaid import EMULATOR_CREDENTIALS
from service.config.server import ServerSection
from service.config.settings import ConfigError, Settings
from service.domain.degraded import DegradedPolicy
from service.domain.model import Rail
from service.domain.policy import BalancePolicy, ScorePolicy
from service.domain.realtime import RulesetDeclaration, RulesetType

API_KEYS = str(Path(__file__).parents[1] / "fixtures" / "api-keys.toml")
SANDBOX = {
    "PLAID_ENV": "sandbox",
    "PLAID_CLIENT_ID": "cid",
    "PLAID_SECRET": "sec",
    "ACH_RISK_API_KEYS_FILE": API_KEYS,
}
# Every table of the file that has defaults, nested ones included.
EVERY_TABLE = (
    "plaid",
    "plaid.retry",
    "ledger",
    "outbox",
    "server",
    "balance_policy",
    "balance_policy.default",
    "score_policy",
    "realtime",
    "degraded",
    "degraded.default",
)
PRODUCTION = {
    **SANDBOX,
    "PLAID_ENV": "production",
    "ACH_RISK_FINGERPRINT_KEY": "fp-key",
}


def problems(env: dict[str, str], **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environ(env, **kwargs)
    return str(caught.value)


@pytest.fixture
def write_toml(tmp_path):
    def write(text: str, name: str = "ach-risk.toml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


class TestDefaults:
    def test_an_empty_environment_runs_against_the_embedded_emulator(self):
        settings = Settings.from_environ({})
        assert settings.listen == "127.0.0.1:50051"
        assert settings.plaid.env == "emulator"
        assert settings.plaid.base_url is None
        assert settings.plaid.client_id.reveal() == EMULATOR_CREDENTIALS[0]
        assert settings.plaid.secret.reveal() == EMULATOR_CREDENTIALS[1]
        assert settings.log_format == "auto"
        assert settings.log_level == "info"

    def test_the_emulator_without_a_file_uses_the_packaged_registry(self):
        settings = Settings.from_environ({})
        assert settings.config_source == "service/config/emulator.toml (packaged)"
        assert settings.policies.rulesets == {
            "balance-only": RulesetDeclaration(RulesetType.BALANCE_ONLY, True),
            "sts-with-balance": RulesetDeclaration(
                RulesetType.TRANSACTION_SCORES, True
            ),
            "sts-scores-only": RulesetDeclaration(
                RulesetType.TRANSACTION_SCORES, False
            ),
        }
        assert settings.notes == ()
        assert settings.policies.balance_for(Rail.WIRE).margin == Decimal("0.05")

    def test_without_a_file_outside_the_emulator_the_documented_defaults_apply(self):
        settings = Settings.from_environ(SANDBOX)
        policies = settings.policies
        assert settings.config_source == "<defaults>"
        assert policies.rulesets == {}
        assert policies.score == ScorePolicy(70, 90, 60, 80)
        assert policies.balance_default == BalancePolicy(Decimal(0), False, 3600)
        assert policies.balance_by_rail == {}
        assert policies.realtime_window == timedelta(seconds=120)
        assert settings.plaid.tuning.connect_timeout_s == 3.0
        assert settings.plaid.tuning.scores_budget_s == 10.0
        assert settings.plaid.tuning.live_balance_budget_s == 40.0
        assert settings.plaid.tuning.pool_size == 4096

    def test_an_empty_file_gives_the_same_settings_as_no_file(self, write_toml):
        without = Settings.from_environ(SANDBOX)
        empty = Settings.from_environ(SANDBOX, config_path=write_toml(""))
        assert empty.config_source != without.config_source
        assert replace(empty, config_source=without.config_source) == without

    def test_an_empty_table_gives_the_same_settings_as_no_table(self, write_toml):
        tables = "\n".join(f"[{name}]" for name in EVERY_TABLE)
        without = Settings.from_environ(SANDBOX, config_path=write_toml(""))
        empty = Settings.from_environ(SANDBOX, config_path=write_toml(tables))
        assert empty == without

    def test_the_values_handed_on_carry_the_documented_defaults(self):
        settings = Settings.from_environ(SANDBOX)
        tuning = settings.plaid.tuning
        assert tuning.retry.policy() == RetryPolicy(
            max_attempts=3, initial_backoff_s=0.1, max_backoff_s=2.0, min_attempt_s=0.25
        )
        assert tuning.budgets() == Budgets(
            scores_s=10.0,
            live_balance_s=40.0,
            scores_attempt_s=5.0,
            live_balance_attempt_s=35.0,
        )
        assert settings.state.outbox.policy() == OutboxPolicy(
            batch=50,
            lease_s=60.0,
            idle_poll_s=1.0,
            attempt_timeout_s=10.0,
            backoff_initial_s=1.0,
            backoff_max_s=300.0,
            max_permanent_failures=3,
        )
        assert settings.state.outbox.report_balance_only is True
        assert settings.state.ledger.retention_days == 400
        assert settings.server.limits == ServerSection(max_in_flight=8192, grace_s=10.0)
        assert settings.server.metrics_listen == "127.0.0.1:9464"
        assert settings.policies.degraded_default == DegradedPolicy((), False)
        assert settings.policies.degraded_by_caller == {}

    @pytest.mark.parametrize(
        ("env", "url"),
        [
            (SANDBOX, "https://sandbox.plaid.com"),
            (PRODUCTION, "https://production.plaid.com"),
        ],
    )
    def test_each_plaid_environment_has_its_host(self, env, url):
        assert Settings.from_environ(env).plaid.base_url == url

    def test_listen_argument_wins_over_the_environment(self):
        env = {"ACH_RISK_LISTEN": "0.0.0.0:6000", "ACH_RISK_API_KEYS_FILE": API_KEYS}
        assert Settings.from_environ(env).listen == "0.0.0.0:6000"
        assert Settings.from_environ(env, listen="[::]:7000").listen == "[::]:7000"

    def test_workers_come_from_the_argument_then_the_environment(self):
        assert Settings.from_environ({}).server.workers == 1
        env = {"ACH_RISK_WORKERS": "3"}
        assert Settings.from_environ(env).server.workers == 3
        assert Settings.from_environ(env, workers=2).server.workers == 2
        auto = Settings.from_environ({"ACH_RISK_WORKERS": "auto"}).server.workers
        assert auto >= 1

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("0", "ACH_RISK_WORKERS: 0 workers: expected 1 or more (or auto)"),
            ("two", "ACH_RISK_WORKERS: 'two' is not a number of workers"),
        ],
    )
    def test_a_bad_worker_count_is_named(self, value, message):
        assert message in problems({"ACH_RISK_WORKERS": value})

    def test_workers_cannot_share_port_0(self):
        found = problems({}, listen="127.0.0.1:0", workers=2)
        assert "2 workers need a fixed port to share (listen 127.0.0.1:0)" in found
        assert Settings.from_environ({}, listen="127.0.0.1:0").server.workers == 1

    def test_logging_comes_from_the_environment(self):
        env = {"ACH_RISK_LOG_FORMAT": "json", "ACH_RISK_LOG_LEVEL": "DEBUG"}
        settings = Settings.from_environ(env)
        assert (settings.log_format, settings.log_level) == ("json", "debug")

    def test_a_trailing_slash_on_the_base_url_is_dropped(self):
        env = {"PLAID_BASE_URL": "http://127.0.0.1:8089/"}
        assert Settings.from_environ(env).plaid.base_url == "http://127.0.0.1:8089"

    def test_the_secret_values_never_show_in_the_settings_repr(self):
        settings = Settings.from_environ(
            {**SANDBOX, "PLAID_CLIENT_ID": "cid-123", "PLAID_SECRET": "s3cr3t"}
        )
        assert "s3cr3t" not in repr(settings)
        assert "cid-123" not in repr(settings)


class TestFile:
    def test_values_come_from_the_file(self, write_toml):
        path = write_toml(
            """
            [rulesets.bal]
            type = "balance_only"

            [rulesets.sts]
            type = "transaction_scores"
            balance_rule = true

            [realtime]
            window_s = 30

            [score_policy]
            review_customer_initiated = 50

            [plaid]
            pool_size = 64
            """
        )
        settings = Settings.from_environ(SANDBOX, config_path=path)
        assert settings.config_source == path
        assert settings.policies.rulesets == {
            "bal": RulesetDeclaration(RulesetType.BALANCE_ONLY, None),
            "sts": RulesetDeclaration(RulesetType.TRANSACTION_SCORES, True),
        }
        assert settings.notes == ()
        assert settings.policies.realtime_window == timedelta(seconds=30)
        assert settings.policies.score == ScorePolicy(50, 90, 60, 80)
        assert settings.plaid.tuning.pool_size == 64

    def test_the_old_registry_keys_still_load_with_one_migration_note(self, write_toml):
        path = write_toml(
            """
            [rulesets.old-bal]
            balance_rule = true
            kind = "balance_only"

            [rulesets.old-sts]
            balance_rule = true
            kind = "transaction_score"

            [rulesets.old-unknown]
            balance_rule = true

            [rulesets.new]
            type = "transaction_scores"
            """
        )
        settings = Settings.from_environ(SANDBOX, config_path=path)
        assert settings.policies.rulesets == {
            "old-bal": RulesetDeclaration(RulesetType.BALANCE_ONLY, True),
            "old-sts": RulesetDeclaration(RulesetType.TRANSACTION_SCORES, True),
            # A balance rule alone says nothing of the type: inferred per answer.
            "old-unknown": RulesetDeclaration(None, True),
            "new": RulesetDeclaration(RulesetType.TRANSACTION_SCORES, None),
        }
        (note,) = settings.notes
        assert "old-bal, old-sts, old-unknown are declared with the old keys" in note
        assert 'type = "balance_only" or type = "transaction_scores"' in note
        assert "new" not in note.split(" are declared")[0]

    def test_a_leftover_kind_beside_type_is_noted_too(self, write_toml):
        path = write_toml(
            '[rulesets.both]\ntype = "balance_only"\nkind = "balance_only"\n'
        )
        settings = Settings.from_environ(SANDBOX, config_path=path)
        assert settings.policies.rulesets["both"].type is RulesetType.BALANCE_ONLY
        (note,) = settings.notes
        assert "both" in note

    def test_the_file_can_be_named_by_the_environment(self, write_toml):
        path = write_toml("[realtime]\nwindow_s = 5\n")
        settings = Settings.from_environ({**SANDBOX, "ACH_RISK_CONFIG": path})
        assert settings.policies.realtime_window == timedelta(seconds=5)

    def test_the_config_path_argument_wins_over_the_environment(self, write_toml):
        chosen = write_toml("[realtime]\nwindow_s = 7\n", "chosen.toml")
        ignored = write_toml("[realtime]\nwindow_s = 9\n", "ignored.toml")
        settings = Settings.from_environ(
            {**SANDBOX, "ACH_RISK_CONFIG": ignored}, config_path=chosen
        )
        assert settings.policies.realtime_window == timedelta(seconds=7)

    def test_a_file_replaces_the_packaged_emulator_registry(self, write_toml):
        settings = Settings.from_environ({}, config_path=write_toml(""))
        assert settings.policies.rulesets == {}

    def test_rail_overrides_merge_over_the_default_policy(self, write_toml):
        path = write_toml(
            """
            [balance_policy.default]
            margin = "0.10"
            allow_current_fallback = true
            max_balance_age_s = 600

            [balance_policy.rails.wire]
            margin = "0.25"

            [balance_policy.rails.card]
            max_balance_age_s = 60
            allow_current_fallback = false
            """
        )
        policies = Settings.from_environ(SANDBOX, config_path=path).policies
        default = BalancePolicy(Decimal("0.10"), True, 600)
        assert policies.balance_default == default
        assert policies.balance_for(Rail.WIRE) == BalancePolicy(
            Decimal("0.25"), True, 600
        )
        assert policies.balance_for(Rail.CARD) == BalancePolicy(
            Decimal("0.10"), False, 60
        )
        assert policies.balance_for(Rail.RTP) == default

    def test_a_margin_written_as_a_toml_float_is_exact(self, write_toml):
        path = write_toml("[balance_policy.default]\nmargin = 0.05\n")
        policies = Settings.from_environ(SANDBOX, config_path=path).policies
        assert policies.balance_default.margin == Decimal("0.05")

    @pytest.mark.parametrize(
        ("toml", "where"),
        [
            (
                '[balance_policy.default]\nmargin = "-0.1"\n',
                "balance_policy.default.margin",
            ),
            (
                '[balance_policy.default]\nmargin = "10.5"\n',
                "balance_policy.default.margin",
            ),
            (
                "[balance_policy.default]\nmax_balance_age_s = 0\n",
                "balance_policy.default.max_balance_age_s",
            ),
            (
                '[balance_policy.rails.rtp]\nmargin = "abc"\n',
                "balance_policy.rails.rtp.margin",
            ),
            (
                "[balance_policy.rails.ach_standard]\nmargin = 1\n",
                "balance_policy.rails",
            ),
            ("[rulesets.x]\n", "rulesets.x"),
            ("[rulesets.x]\ntype = 'sts'\n", "rulesets.x.type"),
            (
                "[rulesets.x]\nbalance_rule = true\nkind = 'sts'\n",
                "rulesets.x.kind",
            ),
            (
                "[rulesets.x]\ntype = 'balance_only'\nkind = 'transaction_score'\n",
                "rulesets.x",
            ),
            (
                "[score_policy]\nreview_bank_initiated = 101\n",
                "score_policy.review_bank_initiated",
            ),
            ("[realtime]\nwindow_s = -1\n", "realtime.window_s"),
            ("[plaid]\npool_size = 0\n", "plaid.pool_size"),
            ("[plaid]\nconnect_timeout_s = 0\n", "plaid.connect_timeout_s"),
            ("[surprise]\nx = 1\n", "surprise"),
        ],
    )
    def test_an_invalid_value_is_named_by_its_path(self, write_toml, toml, where):
        path = write_toml(toml)
        message = problems(SANDBOX, config_path=path)
        assert f"{path}: {where}" in message

    def test_every_invalid_value_is_named_at_once(self, write_toml):
        path = write_toml(
            '[balance_policy.default]\nmargin = "-1"\n[realtime]\nwindow_s = -1\n'
        )
        message = problems(SANDBOX, config_path=path)
        assert "balance_policy.default.margin" in message
        assert "realtime.window_s" in message

    def test_a_file_that_is_not_toml_is_named(self, write_toml):
        path = write_toml("[balance_policy\n")
        assert f"{path}: not valid TOML" in problems(SANDBOX, config_path=path)

    def test_a_missing_file_is_named(self, tmp_path):
        path = str(tmp_path / "absent.toml")
        assert f"{path}: cannot read" in problems(SANDBOX, config_path=path)


class TestState:
    def test_the_default_ledger_is_sqlite_under_var(self):
        settings = Settings.from_environ({})
        assert settings.state.database_url.reveal() == (
            "sqlite+aiosqlite:///var/ach-risk.db"
        )
        assert settings.state.development_fingerprint_key

    @pytest.mark.parametrize(
        ("given", "used"),
        [
            ("postgresql://u:p@db/achrisk", "postgresql+psycopg://u:p@db/achrisk"),
            ("postgres://u@db/x", "postgresql+psycopg://u@db/x"),
            ("sqlite:////data/l.db", "sqlite+aiosqlite:////data/l.db"),
            ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ],
    )
    def test_plain_database_urls_get_the_async_drivers(self, given, used):
        settings = Settings.from_environ({"ACH_RISK_DATABASE_URL": given})
        assert settings.state.database_url.reveal() == used
        assert "u:p" not in repr(settings.state)

    def test_production_requires_a_fingerprint_key(self):
        env = {k: v for k, v in PRODUCTION.items() if k != "ACH_RISK_FINGERPRINT_KEY"}
        assert "ACH_RISK_FINGERPRINT_KEY" in problems(env)


class TestServer:
    def test_auth_may_be_off_only_on_loopback_with_the_emulator(self):
        assert Settings.from_environ({}).server.api_key_hashes is None
        message = problems({}, listen="0.0.0.0:50051")
        assert "ACH_RISK_API_KEYS_FILE is required" in message
        no_keys = {k: v for k, v in SANDBOX.items() if k != "ACH_RISK_API_KEYS_FILE"}
        assert "ACH_RISK_API_KEYS_FILE is required" in problems(no_keys)

    def test_api_keys_name_callers_by_hash(self):
        keys = Settings.from_environ(SANDBOX).server.api_key_hashes
        assert keys is not None
        assert sorted(set(keys.values())) == ["checkout", "ops"]
        assert all(len(h) == 64 for h in keys)

    def test_a_bad_keys_file_is_named(self, write_toml):
        path = write_toml('[callers.x]\nkey_sha256 = ["not-a-hash"]\n', "keys.toml")
        message = problems({**SANDBOX, "ACH_RISK_API_KEYS_FILE": path})
        assert "callers.x.key_sha256.0" in message

    def test_tls_needs_both_files(self, write_toml):
        cert = write_toml("x", "cert.pem")
        message = problems({**SANDBOX, "ACH_RISK_TLS_CERT_FILE": cert})
        assert "ACH_RISK_TLS_KEY_FILE" in message

    def test_limits_come_from_the_file(self, write_toml):
        path = write_toml("[server]\nmax_in_flight = 7\ngrace_s = 3\n")
        limits = Settings.from_environ({}, config_path=path).server.limits
        assert (limits.max_in_flight, limits.grace_s) == (7, 3)


class TestPolicyConsistency:
    def test_a_review_threshold_above_its_reroute_threshold_is_refused(
        self, write_toml
    ):
        path = write_toml(
            "[score_policy]\nreview_bank_initiated = 90\nreroute_bank_initiated = 80\n"
        )
        message = problems({}, config_path=path)
        assert (
            "review_bank_initiated (90) must not exceed reroute_bank_initiated"
            in message
        )

    def test_an_unknown_log_level_is_refused(self):
        assert "ACH_RISK_LOG_LEVEL='loud'" in problems({"ACH_RISK_LOG_LEVEL": "loud"})


class TestSecrets:
    def test_plaid_secret_file_is_read_and_stripped(self, tmp_path):
        secret_file = tmp_path / "plaid-secret"
        secret_file.write_text("from-the-mount\n")
        env = {**SANDBOX, "PLAID_SECRET": "", "PLAID_SECRET_FILE": str(secret_file)}
        assert Settings.from_environ(env).plaid.secret.reveal() == "from-the-mount"

    def test_the_file_wins_over_the_plain_variable(self, tmp_path):
        secret_file = tmp_path / "plaid-secret"
        secret_file.write_text("from-the-mount")
        env = {**SANDBOX, "PLAID_SECRET_FILE": str(secret_file)}
        assert Settings.from_environ(env).plaid.secret.reveal() == "from-the-mount"

    def test_plaid_client_id_file_is_read(self, tmp_path):
        id_file = tmp_path / "plaid-client-id"
        id_file.write_text("client-from-file")
        env = {**SANDBOX, "PLAID_CLIENT_ID": "", "PLAID_CLIENT_ID_FILE": str(id_file)}
        assert Settings.from_environ(env).plaid.client_id.reveal() == "client-from-file"

    def test_an_unreadable_secret_file_is_named(self, tmp_path):
        path = str(tmp_path / "absent")
        message = problems({**SANDBOX, "PLAID_SECRET_FILE": path})
        assert f"{path}: cannot read" in message
        assert "PLAID_SECRET (or PLAID_SECRET_FILE) is required" in message

    def test_an_empty_secret_file_counts_as_missing(self, tmp_path):
        secret_file = tmp_path / "plaid-secret"
        secret_file.write_text("\n")
        message = problems({**PRODUCTION, "PLAID_SECRET_FILE": str(secret_file)})
        assert "PLAID_SECRET (or PLAID_SECRET_FILE) is required" in message

    def test_the_emulator_accepts_given_credentials(self):
        settings = Settings.from_environ({"PLAID_CLIENT_ID": "c", "PLAID_SECRET": "s"})
        assert settings.plaid.client_id.reveal() == "c"
        assert settings.plaid.secret.reveal() == "s"


class TestRefusals:
    def test_production_without_credentials_names_both_variables(self):
        message = problems({"PLAID_ENV": "production"})
        assert "PLAID_CLIENT_ID (or PLAID_CLIENT_ID_FILE) is required" in message
        assert "PLAID_SECRET (or PLAID_SECRET_FILE) is required" in message

    def test_sandbox_without_credentials_names_both_variables(self):
        message = problems({"PLAID_ENV": "sandbox"})
        assert "PLAID_CLIENT_ID" in message
        assert "PLAID_SECRET" in message

    def test_production_without_only_the_secret_names_only_the_secret(self):
        message = problems({"PLAID_ENV": "production", "PLAID_CLIENT_ID": "cid"})
        assert "PLAID_SECRET" in message
        assert "PLAID_CLIENT_ID" not in message

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8089",
            "https://sandbox.plaid.com",
            "http://production.plaid.com",
        ],
    )
    def test_production_refuses_any_host_but_plaid_production(self, url):
        message = problems({**PRODUCTION, "PLAID_BASE_URL": url})
        assert "PLAID_BASE_URL must be Plaid's production host" in message

    def test_production_accepts_its_own_host_given_explicitly(self):
        env = {**PRODUCTION, "PLAID_BASE_URL": "https://production.plaid.com/"}
        assert Settings.from_environ(env).plaid.base_url == (
            "https://production.plaid.com"
        )

    def test_sandbox_may_point_anywhere(self):
        env = {**SANDBOX, "PLAID_BASE_URL": "http://127.0.0.1:8089"}
        assert Settings.from_environ(env).plaid.base_url == "http://127.0.0.1:8089"

    @pytest.mark.parametrize("value", ["prod", "Production", "live", ""])
    def test_an_unknown_plaid_env_is_named(self, value):
        message = problems({"PLAID_ENV": value})
        assert f"PLAID_ENV={value!r}" in message
        assert "expected emulator, sandbox or production" in message

    def test_an_unknown_log_format_is_named(self):
        message = problems({"ACH_RISK_LOG_FORMAT": "xml"})
        assert "ACH_RISK_LOG_FORMAT='xml'" in message

    def test_every_problem_is_named_at_once(self, write_toml):
        path = write_toml("[realtime]\nwindow_s = -1\n")
        message = problems(
            {
                "PLAID_ENV": "production",
                "PLAID_BASE_URL": "http://127.0.0.1:8089",
                "ACH_RISK_LOG_FORMAT": "xml",
            },
            config_path=path,
        )
        for named in (
            "PLAID_CLIENT_ID",
            "PLAID_SECRET",
            "PLAID_BASE_URL",
            "ACH_RISK_LOG_FORMAT",
            "realtime.window_s",
        ):
            assert named in message
