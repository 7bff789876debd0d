"""`make bench`'s bookkeeping: targets marked PASS or MISS, every figure printed, a failing exit.

Timings themselves are not tested (they depend on the machine); what is tested is what a person
running the benchmark relies on: a miss is never shown as a pass, a miss does not stop the other
figures from being printed, and wrk's output is read correctly, failures included.
"""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from directory.management.commands import bench_directory
from directory.management.commands.bench_directory import (
    Check,
    check,
    parse_sizes,
    size_label,
    summary,
)
from directory.management.commands.bench_http import parse_pgbench, parse_wrk, rotating_script

# Real wrk 4.1.0 output (against a server answering 404), and one with socket errors.
WRK_404 = """Running 1s test @ http://127.0.0.1:18765/nonexistent
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.99ms    2.26ms  18.75ms   86.72%
    Req/Sec     1.28k   493.21     2.14k    60.00%
  Latency Distribution
     50%    0.91ms
     75%    2.87ms
     90%    4.83ms
     99%   10.28ms
  1280 requests in 1.00s, 650.00KB read
  Non-2xx or 3xx responses: 1280
Requests/sec:   1277.05
Transfer/sec:    648.50KB
"""
WRK_SLOW = """Running 10s test @ http://127.0.0.1:8000/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   110.29ms   30.12ms    1.20s    70.12%
    Req/Sec    36.61     10.27    60.00     65.00%
  Latency Distribution
     50%  650.00us
     75%  125.00ms
     90%  150.00ms
     99%    1.20s
  732 requests in 10.05s, 3.21MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:     72.84
Transfer/sec:    327.12KB
"""


class TargetTableTests:
    def test_it_marks_a_missed_target_and_counts_it(self):
        checks = [
            check("search API/raw", 2.5, "<=", 3, "x"),
            check("search p95", 140.0, "<", 100, " ms"),
            check("page rate", 85.0, ">=", 80, " %"),
        ]
        lines, missed = summary(checks)
        assert missed == 1
        assert [line.split()[-1] for line in lines[1:]] == ["PASS", "MISS", "PASS"]
        assert "140.0 ms" in lines[2] and "< 100 ms" in lines[2]

    def test_it_treats_the_limit_as_the_target_says(self):
        assert check("ratio", 3.0, "<=", 3, "x").passed
        assert not check("p95", 100.0, "<", 100, " ms").passed
        assert check("share", 25.0, ">=", 25, " %").passed
        assert not check("share", 24.9, ">=", 25, " %").passed

    def test_it_counts_a_figure_not_measured_as_a_miss(self):
        result = check("search rate, % of pgbench", None, ">=", 25, " %")
        assert not result.passed
        assert result.measured == "not measured"

    def test_it_refuses_an_unknown_comparison(self):
        with pytest.raises(ValueError):
            check("ratio", 1.0, "=", 3)

    def test_it_names_the_databases_by_size(self):
        assert parse_sizes("100k,1m") == [100_000, 1_000_000]
        assert parse_sizes("100000, 1_000_000") == [100_000, 1_000_000]
        assert parse_sizes("") == []
        assert (size_label(100_000), size_label(1_000_000)) == ("100k", "1m")


class RoundExitTests:
    """The whole round, with the per-database subprocesses replaced by a stand-in."""

    def run_round(self, monkeypatch, results: dict[int, list[Check]]):
        def prepare(self, size, checks):
            return f"postgis://bench/{size}"

        def step(self, label, argv, url, checks):
            out = next(a for a in argv if a.startswith("--json="))[len("--json=") :]
            size = int(url.rsplit("/", 1)[1])
            Path(out).write_text(
                json.dumps(
                    {
                        "checks": [c.__dict__ for c in results[size]],
                        "facts": [[f"{size} database size", "1 MB", 0.5]],
                    }
                )
            )
            return True

        monkeypatch.setattr(bench_directory.Command, "prepare_database", prepare)
        monkeypatch.setattr(bench_directory.Command, "step", step)
        out = io.StringIO()
        try:
            call_command(
                "bench_directory", sizes=[100, 200], http_sizes=[], stdout=out, no_color=True
            )
        except CommandError as exc:
            return out.getvalue(), exc
        return out.getvalue(), None

    def test_it_fails_after_printing_every_figure_when_one_misses(self, monkeypatch):
        output, error = self.run_round(
            monkeypatch,
            {
                100: [check("100 need: API/raw", 7.5, "<=", 3, "x")],
                200: [check("200 need: API/raw", 2.0, "<=", 3, "x")],
            },
        )
        assert error is not None and "1 of 2 targets missed" in str(error)
        assert "100 need: API/raw" in output and "MISS" in output
        # The size measured after the miss is still measured and shown.
        assert "200 need: API/raw" in output and "PASS" in output
        assert "200 database size" in output

    def test_it_succeeds_when_every_target_is_met(self, monkeypatch):
        output, error = self.run_round(
            monkeypatch,
            {
                100: [check("100 need: API/raw", 2.0, "<=", 3, "x")],
                200: [check("200 need: API/raw", 2.9, "<=", 3, "x")],
            },
        )
        assert error is None
        assert "MISS" not in output and "All 2 targets met" in output

    def test_it_fails_when_a_step_fails(self, monkeypatch):
        def broken(self, label, argv, url, checks):
            checks.append(bench_directory.failed(label, "exit 1"))
            return False

        monkeypatch.setattr(bench_directory.Command, "prepare_database", lambda *a: "x/1")
        monkeypatch.setattr(bench_directory.Command, "step", broken)
        with pytest.raises(CommandError, match="2 of 2 targets missed"):
            call_command("bench_directory", sizes=[100], http_sizes=[100], stdout=io.StringIO())


class WrkOutputTests:
    def test_it_reads_rate_and_percentiles(self):
        result = parse_wrk(WRK_SLOW)
        assert result["rate"] == pytest.approx(72.84)
        assert result["p50"] == pytest.approx(0.65)  # 650 us
        assert result["p99"] == pytest.approx(1200.0)  # 1.20 s
        assert result["requests"] == 732

    def test_it_counts_error_answers_and_socket_errors_as_failures(self):
        assert parse_wrk(WRK_404)["failures"] == 1280
        assert parse_wrk(WRK_SLOW)["failures"] == 3

    def test_it_refuses_output_it_cannot_read(self):
        with pytest.raises(ValueError):
            parse_wrk("unable to connect to 127.0.0.1:8000 Connection refused\n")

    def test_it_reads_pgbench_tps_and_latencies(self):
        output = "tps = 207.123456 (without initial connection time)\n"
        result = parse_pgbench(output, [1000 * n for n in range(1, 101)])
        assert result["rate"] == pytest.approx(207.123456)
        assert (result["p50"], result["p99"]) == (50.0, 99.0)

    def test_the_script_rotates_through_every_path(self):
        script = rotating_script(["/api/postcodes/SK14%204QH", "/healthz"])
        assert '"/api/postcodes/SK14%204QH"' in script and '"/healthz"' in script
        assert "function request()" in script
