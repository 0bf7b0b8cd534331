"""The profile summary: py-spy's collapsed stacks, charged to layers, modules, functions."""

from __future__ import annotations

import pytest

from bench.profile import (
    EVENT_LOOP,
    OTHER,
    Frame,
    parse_frame,
    parse_raw,
    render,
    stack_layer,
    summarise,
    top_layers,
)

LOOP = (
    "<module> (service/cli.py:5);BaseEventLoop.run_forever (asyncio/base_events.py:607)"
    ";Handle._run (asyncio/events.py:80)"
)
# The shape of `py-spy record --format raw --gil --threads` (0.4), trimmed.
RAW = f"""\
thread (101): MainThread;{LOOP};EvaluatePayment (service/api/servicer.py:90);decide (service/app/decide.py:40);PlaidTransport.post (service/adapters/plaid/http.py:100);ClientSession._request (aiohttp/client.py:900);_SelectorSocketTransport.write (asyncio/selector_events.py:1050) 30
thread (101): MainThread;{LOOP};EvaluatePayment (service/api/servicer.py:90);decision_pb (service/api/convert.py:200) 20
thread (101): MainThread;{LOOP};EvaluatePayment (service/api/servicer.py:90);BoundLoggerBase._proxy_to_logger (structlog/_base.py:200) 10
thread (101): MainThread;{LOOP} 25
thread (101): MainThread;{LOOP};EvaluatePayment (service/api/servicer.py:91) 5
thread (102): ledger-writer;Thread._bootstrap (threading.py:1002);SqliteWriter._run (service/adapters/store/sqlite.py:160) 8
thread (103): Thread-1 (_poll_wrapper);Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982) 2
"""


class TestParse:
    @pytest.mark.parametrize(
        ("text", "frame"),
        [
            (
                "Handle._run (asyncio/events.py:80)",
                Frame("Handle._run", "asyncio/events.py"),
            ),
            (
                "decide (service/app/decide.py)",
                Frame("decide", "service/app/decide.py"),
            ),
            (
                "ClientSession._request.<locals>._connect (aiohttp/client.py:878)",
                Frame("ClientSession._request.<locals>._connect", "aiohttp/client.py"),
            ),
            ("<lambda> (<string>:1)", Frame("<lambda>", "<string>")),
            ("0x7fb1b46e6c3a", Frame("0x7fb1b46e6c3a", "")),
        ],
    )
    def test_a_frame_is_a_function_and_a_path_without_the_line(
        self, text: str, frame: Frame
    ) -> None:
        assert parse_frame(text) == frame

    def test_stacks_carry_their_thread_frames_root_first_and_their_count(self):
        stacks = parse_raw(RAW + "garbage line\n\n")
        assert len(stacks) == 7
        first = stacks[0]
        assert (first.thread, first.samples) == ("MainThread", 30)
        assert first.frames[0] == Frame("<module>", "service/cli.py")
        assert first.frames[-1].function == "_SelectorSocketTransport.write"
        assert stacks[6].thread == "Thread-1 (_poll_wrapper)"

    def test_without_threads_there_is_no_thread_frame(self):
        (stack,) = parse_raw("a (x.py:1);b (y.py:2) 7\n")
        assert (stack.thread, [f.function for f in stack.frames], stack.samples) == (
            "",
            ["a", "b"],
            7,
        )


class TestLayers:
    def test_the_event_loop_called_by_aiohttp_counts_as_the_plaid_call(self):
        stacks = parse_raw(RAW)
        assert stack_layer(stacks[0].frames) == "Plaid call (aiohttp)"

    @pytest.mark.parametrize(
        ("index", "layer"),
        [
            (1, "protobuf conversion"),
            (2, "logging"),
            (3, EVENT_LOOP),  # nothing but the loop itself
            (4, "servicer, interceptors"),
            (5, "ledger (SQLite writes)"),
            (6, EVENT_LOOP),
        ],
    )
    def test_each_stack_goes_to_the_frame_nearest_its_leaf(
        self, index: int, layer: str
    ) -> None:
        assert stack_layer(parse_raw(RAW)[index].frames) == layer

    def test_the_forwarders_one_file_splits_into_handler_and_ledger(self):
        (handler, writer, start) = parse_raw(
            "Forwarder.evaluate (bench/forwarder.py:200) 1\n"
            "RowWriter._run (bench/forwarder.py:110) 1\n"
            "<module> (bench/forwarder.py:256) 1\n"
        )
        assert stack_layer(handler.frames) == "servicer, interceptors"
        assert stack_layer(writer.frames) == "ledger (SQLite writes)"
        assert stack_layer(start.frames) == OTHER


class TestSummary:
    def test_shares_by_layer_thread_module_and_function(self):
        summary = summarise(parse_raw(RAW))

        assert summary.total == 100
        assert top_layers(summary)[:2] == [
            ("Plaid call (aiohttp)", 30.0),
            (EVENT_LOOP, 27.0),  # 25 of the loop alone, 2 of gRPC's poller
        ]
        assert summary.threads["MainThread"] == 90
        assert summary.modules["asyncio"] == 30 + 25
        assert summary.own["decision_pb (service/api/convert.py)"] == 20
        # Own counts the leaf; total counts every stack a function is on, once.
        assert summary.own["EvaluatePayment (service/api/servicer.py)"] == 5
        assert summary.inclusive["EvaluatePayment (service/api/servicer.py)"] == 65
        assert summary.inclusive["Handle._run (asyncio/events.py)"] == 90

    def test_a_recursive_function_counts_once_per_stack(self):
        summary = summarise(parse_raw("f (a.py:1);f (a.py:2);f (a.py:3) 4\n"))
        assert summary.inclusive["f (a.py)"] == 4

    def test_the_text_names_how_busy_the_gil_was_and_ranks_every_table(self):
        text = render(summarise(parse_raw(RAW)), ["py-spy profile of the service"], 400)

        assert text.startswith("py-spy profile of the service\n")
        assert "samples: 100 holding the GIL of 400 looks: GIL held 25%" in text
        assert "  30.0%  Plaid call (aiohttp)" in text
        assert "  20.0%  decision_pb (service/api/convert.py)" in text
        assert "Garbage collection has no frame of its own" in text

    def test_with_the_calls_answered_each_layer_has_a_gil_cost_per_call(self):
        # 100 samples at 100 Hz is 1 s of GIL; over 50 calls, 20 ms each.
        text = render(summarise(parse_raw(RAW)), [], 400, calls=50)

        assert "  30.0%   6.00 ms  Plaid call (aiohttp)" in text
        assert "20.00 ms  in all" in text

    def test_no_samples_says_so(self):
        assert render(summarise([]), ["header"]).endswith("no samples\n")
