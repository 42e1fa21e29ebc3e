"""Bad configuration makes `sluice serve` exit non-zero with one line naming the problem;
--help lists the options."""
import subprocess

import pytest

from harness import free_port, sluice_bin

EXIT_TIMEOUT_S = 10

BAD_CONFIGS = {
    "unknown_key": ("[pool]\npool_sizee = 5\n", "pool_sizee"),
    "unknown_section": ("[poool]\npool_size = 5\n", "poool"),
    "bad_integer": ('[pool]\npool_size = "lots"\n', "pool_size"),
    "negative_size": ("[pool]\npool_size = -3\n", "pool_size"),
    "bad_pool_mode": ('[pool]\npool_mode = "statement"\n', "pool_mode"),
    "bad_io_backend": ('[server]\nio_backend = "kqueue"\n', "io_backend"),
    "bad_duration": ('[pool]\nquery_wait_timeout = "5 parsecs"\n', "query_wait_timeout"),
    "bad_auth_type": ('[auth]\ntype = "password-please"\n', "type"),  # "auth.type" etc.
    "bad_listen": ('[server]\nlisten = "127.0.0.1:99999"\n', "listen"),
    "toml_syntax": ("[pool\npool_size = 5\n", ""),
    "class_shares_over_budget": ("[pool]\npool_size = 4\n[classes.high]\nmin_connections = 4\n",
                                 "min_connections"),
    "bad_class_key": ("[classes.low]\npriorty = 1\n", "priority"),
}


def serve(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(sluice_bin()), *args], capture_output=True, text=True,
                              timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sluice {' '.join(args)} still running after {EXIT_TIMEOUT_S}s")


def assert_one_line_error(result, must_mention: str) -> None:
    assert result.returncode != 0, f"exit code 0; stderr: {result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert must_mention in lines[0], lines[0]


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_bad_config_file(tmp_path, name):
    text, key = BAD_CONFIGS[name]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = serve("serve", "-c", str(path), "--listen", f"127.0.0.1:{free_port()}",
                   "--server", "postgresql://nobody@127.0.0.1:1/db")
    assert_one_line_error(result, key)


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.toml"
    result = serve("serve", "-c", str(missing), "--listen", f"127.0.0.1:{free_port()}")
    assert_one_line_error(result, "nope.toml")


def test_bad_flag_value():
    result = serve("serve", "--pool-mode", "sometimes", "--listen", f"127.0.0.1:{free_port()}")
    assert result.returncode != 0
    assert "pool-mode" in result.stderr or "pool_mode" in result.stderr, result.stderr


def test_help_lists_subcommands():
    result = serve("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "up", "down"):
        assert command in result.stdout


def test_serve_help_lists_options():
    result = serve("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("-c", "--listen", "--server", "--pool-mode", "--pool-size", "--auth-type",
                   "--auth-file", "--admin-users", "--workers", "--log-level"):
        assert option in result.stdout, f"{option} missing from serve --help"
