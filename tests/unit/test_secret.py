"""Secret: the value never shows in a repr, str, f-string or log line."""

import pickle
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.app.ports import PlaidAccount
from service.domain.secret import Secret

TOKEN = "access-production-8ab976e6-64bc-4b38-98f7-731e7a349970"


class TestHiding:
    def test_repr_and_str_hide_the_value(self):
        secret = Secret(TOKEN)
        assert repr(secret) == "<SECRET>"
        assert str(secret) == "<SECRET>"
        assert f"{secret}" == "<SECRET>"
        assert "%s %r" % (secret, secret) == "<SECRET> <SECRET>"  # noqa: UP031

    def test_a_containing_dataclass_repr_hides_the_value(self):
        account = PlaidAccount(Secret(TOKEN), "acc-1")
        assert TOKEN not in repr(account)
        assert "acc-1" in repr(account)

    def test_containers_hide_the_value(self):
        assert TOKEN not in repr([Secret(TOKEN)])
        assert TOKEN not in repr({"token": Secret(TOKEN)})

    def test_it_has_no_instance_dict_to_leak_through(self):
        secret = Secret(TOKEN)
        with pytest.raises(TypeError):
            vars(secret)

    def test_reveal_is_the_way_to_read_it(self):
        assert Secret(TOKEN).reveal() == TOKEN

    @given(st.text(min_size=1))
    def test_no_value_ever_shows(self, value):
        @dataclass
        class Holder:
            secret: Secret

        assert repr(Holder(Secret(value))).endswith("Holder(secret=<SECRET>)")


class TestTruthiness:
    def test_an_empty_secret_is_false(self):
        assert not Secret("")

    def test_a_non_empty_secret_is_true(self):
        assert Secret("x")


class TestFingerprint:
    def test_is_hmac_sha256_hex(self):
        # RFC 4231 test case 2.
        secret = Secret("what do ya want for nothing?")
        assert secret.fingerprint(b"Jefe") == (
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )

    def test_depends_on_the_key(self):
        secret = Secret(TOKEN)
        assert secret.fingerprint(b"key-1") != secret.fingerprint(b"key-2")

    def test_does_not_contain_the_value(self):
        assert TOKEN not in Secret(TOKEN).fingerprint(b"k")

    @given(st.text(), st.text())
    def test_is_the_same_exactly_for_the_same_value(self, one, other):
        same = Secret(one).fingerprint(b"k") == Secret(other).fingerprint(b"k")
        assert same is (one == other)


class TestEquality:
    def test_equal_values_are_equal_and_hash_alike(self):
        assert Secret(TOKEN) == Secret(TOKEN)
        assert hash(Secret(TOKEN)) == hash(Secret(TOKEN))
        assert len({Secret(TOKEN), Secret(TOKEN)}) == 1

    def test_different_values_differ(self):
        assert Secret("a") != Secret("b")

    def test_a_secret_never_equals_its_plain_value(self):
        assert Secret(TOKEN) != TOKEN

    @given(st.text(), st.text())
    def test_two_secrets_are_equal_exactly_when_their_values_are(self, one, other):
        """Holds for any text, not only ASCII: access tokens arrive from callers."""
        assert (Secret(one) == Secret(other)) is (one == other)

    def test_equal_non_ascii_secrets_are_equal(self):
        assert Secret("pässwörd") == Secret("pässwörd")


class TestPickle:
    def test_a_pickled_secret_keeps_its_value(self):
        restored = pickle.loads(pickle.dumps(Secret(TOKEN)))
        assert restored.reveal() == TOKEN
