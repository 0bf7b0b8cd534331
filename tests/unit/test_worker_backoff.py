"""A crash-looping worker waits longer before each restart; a stable one restarts at once."""

from service.workers.worker import MAX_DELAY_S, STABLE_S, Backoff


def test_the_first_crash_restarts_at_once_then_the_waits_double() -> None:
    backoff = Backoff()
    delays = [backoff.delay_after(uptime_s=1.0) for _ in range(9)]
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_DELAY_S, MAX_DELAY_S]


def test_a_worker_that_ran_long_enough_is_restarted_at_once_again() -> None:
    backoff = Backoff()
    for _ in range(5):
        backoff.delay_after(uptime_s=1.0)
    assert backoff.delay_after(uptime_s=STABLE_S) == 0.0
    assert backoff.delay_after(uptime_s=1.0) == 0.5
