"""Hook building blocks without a network: settings, backoff, Retry-After, rate limiter, masking."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import tenacity
from airflow.sdk.exceptions import AirflowFailException

from argo_energy.eniscope.config import DEFAULT_BASE_URL, EniscopeSettings, base_url_of
from argo_energy.eniscope.errors import (
    EniscopeAuthError,
    EniscopeConfigError,
    EniscopeRequestError,
    EniscopeTransientError,
)
from argo_energy.eniscope.hook import EniscopeHook
from argo_energy.eniscope.ratelimit import RateLimiter, get_limiter, reset_limiters
from argo_energy.eniscope.retry import BackoffWait, Retryable, parse_retry_after


def conn(host="http://127.0.0.1:8085", login="a@example.com", password="secret-pass", extra=None, **kw):  # noqa: S107
    return SimpleNamespace(
        host=host, login=login, password=password, schema=kw.get("schema"), port=kw.get("port"),
        extra_dejson={"api_key": "key-123456"} if extra is None else extra,
    )


def test_settings_from_connection_with_defaults_and_tuning():
    s = EniscopeSettings.from_connection(conn(), "c")
    assert (s.base_url, s.email, s.connect_timeout, s.read_timeout, s.max_retries) == (
        "http://127.0.0.1:8085", "a@example.com", 10.0, 60.0, 4,
    )
    tuned = EniscopeSettings.from_connection(
        conn(extra={"extra__eniscope__api_key": "k" * 8, "timeout": "5", "max_retries": 2,
                    "retry_wait_max": 0, "requests_per_second": 2.5, "page_size": 500}), "c"
    )
    assert tuned.api_key == "k" * 8
    assert (tuned.connect_timeout, tuned.read_timeout, tuned.max_retries) == (5.0, 5.0, 2)
    assert (tuned.retry_wait_max, tuned.requests_per_second, tuned.page_size) == (0.0, 2.5, 100)


def test_settings_repr_hides_secrets():
    text = repr(EniscopeSettings.from_connection(conn(), "c"))
    assert "secret-pass" not in text
    assert "key-123456" not in text


def test_basic_authorization_matches_the_documented_example():
    # API.md §2: api@someorg.com / thisismypassword
    s = EniscopeSettings.from_connection(conn(login="api@someorg.com", password="thisismypassword"), "c")
    assert s.password_md5 == "31435008693ce6976f45dedc5532e2c1"
    assert s.basic_authorization == "Basic YXBpQHNvbWVvcmcuY29tOjMxNDM1MDA4NjkzY2U2OTc2ZjQ1ZGVkYzU1MzJlMmMx"


@pytest.mark.parametrize(
    ("kwargs", "cause"),
    [({"extra": {}}, "api_key"), ({"login": None}, "credentials"), ({"password": ""}, "credentials")],
)
def test_missing_credentials_are_auth_errors(kwargs, cause):
    with pytest.raises(EniscopeAuthError) as info:
        EniscopeSettings.from_connection(conn(**kwargs), "c")
    assert info.value.cause == cause


def test_bad_tuning_value_is_a_clear_error():
    with pytest.raises(EniscopeRequestError, match="'read_timeout' must be a number"):
        EniscopeSettings.from_connection(conn(extra={"api_key": "k" * 8, "read_timeout": "slow"}), "c")


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("https://core.eniscope.com", None, None, "https://core.eniscope.com"),
        ("http://127.0.0.1:8085/", None, None, "http://127.0.0.1:8085"),
        ("core.eniscope.com", None, None, "https://core.eniscope.com"),
        ("simulator", "http", 8085, "http://simulator:8085"),
        ("http://simulator", None, 8085, "http://simulator:8085"),
        ("", None, None, DEFAULT_BASE_URL),
    ],
)
def test_base_url_of(host, schema, port, expected):
    assert base_url_of(conn(host=host, schema=schema, port=port)) == expected


@pytest.mark.parametrize(
    ("host", "port", "problem"),
    [
        ("not a url", None, "contains whitespace"),
        ("ftp://127.0.0.1:1", None, "scheme 'ftp' is not http or https"),
        ("http://", None, "has no host"),
        ("https://", 8085, "has no host"),
        ("http://127.0.0.1:99999", None, "Port out of range"),
        ("http://127.0.0.1:8085/?x=1", None, "has a query or fragment"),
    ],
)
def test_unusable_base_url_is_a_terminal_config_error(host, port, problem):
    with pytest.raises(EniscopeConfigError, match=problem) as info:
        EniscopeSettings.from_connection(conn(host=host, port=port), "eniscope_default")
    assert isinstance(info.value, AirflowFailException), "Airflow would retry it"
    assert "connection 'eniscope_default' has an unusable base URL" in str(info.value)


def test_bad_tuning_value_is_terminal():
    with pytest.raises(AirflowFailException, match="'max_retries' must be >= 0"):
        EniscopeSettings.from_connection(conn(extra={"api_key": "k" * 8, "max_retries": -1}), "c")


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 16, 12, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Mon, 16 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def _state(attempt, exc):
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_backoff_is_exponential_jittered_and_capped():
    wait = BackoffWait(base=1.0, cap=8.0, rng=random.Random(1))
    error = Retryable("server_error", "503")
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        value = wait(_state(attempt, error))
        assert ceiling / 2 <= value <= ceiling


def test_backoff_honours_retry_after_within_the_cap():
    wait = BackoffWait(base=1.0, cap=30.0)
    assert wait(_state(1, Retryable("rate_limited", "429", retry_after=12))) == 12
    assert wait(_state(1, Retryable("rate_limited", "429", retry_after=300))) == 30
    assert BackoffWait(base=1.0, cap=0.0)(_state(3, Retryable("x", "y", retry_after=5))) == 0


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_paces_requests():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)
    for _ in range(9):
        limiter.acquire()
    assert clock.now == pytest.approx(2.0), "9 requests at 4/s with burst 1 take 2 s"
    unlimited = RateLimiter(0, clock=clock, sleep=clock.sleep)
    before = clock.now
    for _ in range(100):
        unlimited.acquire()
    assert clock.now == before


def test_rate_limiter_books_consecutive_turns_for_callers_waiting_at_once():
    # Callers that arrive together queue for turns 0, T, 2T, 3T (the sleep here does not advance
    # the clock: four threads asleep at once); a bucket re-read after each sleep would send them
    # all back to the same instant and race.
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=lambda s: None)
    assert [limiter.acquire() for _ in range(4)] == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_rate_limiter_late_wake_up_does_not_push_later_turns_back():
    clock = FakeClock()

    def oversleep(seconds):  # a busy machine wakes every sleeper 10 ms late
        clock.sleep(seconds + 0.01)

    limiter = RateLimiter(4, clock=clock, sleep=oversleep)
    for _ in range(9):
        limiter.acquire()
    assert clock.now == pytest.approx(2.01), "the turns stay 0.25 s apart; only the last wake-up is late"


def test_rate_limiter_over_max_wait_books_nothing():
    clock = FakeClock()
    limiter = RateLimiter(1, max_wait=1.5, clock=clock, sleep=lambda s: None)
    assert [limiter.acquire(), limiter.acquire()] == [0.0, 1.0]
    with pytest.raises(EniscopeTransientError):
        limiter.acquire()  # turn 2 is 2 s away
    clock.now = 1.0
    assert limiter.acquire() == pytest.approx(1.0), "the refused take booked no turn"


def test_rate_limiter_is_thread_safe():
    # Real clock at a high rate: 5 threads x 10 requests at 200/s cannot finish before 49/200 s.
    import time

    limiter = RateLimiter(200)
    taken: list[float] = []
    lock = threading.Lock()

    def work():
        for _ in range(10):
            limiter.acquire()
            with lock:
                taken.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(5)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(taken) == 50
    assert max(taken) - started >= 49 / 200 * 0.95


def test_limiters_are_shared_per_base_url():
    reset_limiters()
    a = get_limiter("http://x", 5)
    assert get_limiter("http://x", 5) is a
    assert get_limiter("http://y", 5) is not a
    assert get_limiter("http://x", 2) is a
    assert a.rate == 2
    reset_limiters()


def test_hook_init_only_stores_arguments(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ENISCOPE_DEFAULT", raising=False)
    hook = EniscopeHook(wait=tenacity.wait_none())
    assert hook.eniscope_conn_id == "eniscope_default"
    assert hook._settings is None
    assert hook._transport is None


def test_secrets_are_registered_with_the_masker(monkeypatch):
    from airflow.sdk._shared.secrets_masker import redact

    monkeypatch.setenv(
        "AIRFLOW_CONN_MASK_TEST",
        '{"conn_type": "eniscope", "host": "https://h", "login": "m@example.com", '
        '"password": "masked-password-1", "extra": {"api_key": "masked-api-key-1"}}',
    )
    hook = EniscopeHook("mask_test")
    settings = hook.settings
    text = f"pw={settings.password} md5={settings.password_md5} key={settings.api_key}"
    redacted = redact(text)
    for secret in (settings.password, settings.password_md5, settings.api_key):
        assert secret not in redacted


def test_get_readings_refuses_naive_or_empty_windows(monkeypatch):
    hook = EniscopeHook()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        hook.get_readings(1, datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="empty window"):
        hook.get_readings(1, start, start - timedelta(hours=1))


def test_errors_survive_pickling():
    import pickle

    from argo_energy.eniscope.errors import ChannelUnsupportedError, EniscopeTransientError

    for error in (
        EniscopeAuthError("bad key", cause="api_key", status=403, path="organizations"),
        ChannelUnsupportedError(59161, "channel 59161: 500 Invalid Parameter", fields=("E",)),
        EniscopeTransientError("503 after 5 attempt(s)", status=503),
    ):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert copy.__dict__ == error.__dict__
