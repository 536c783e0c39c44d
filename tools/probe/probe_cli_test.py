#!/usr/bin/python3
"""tether-probe end to end, against loopback listeners this test starts.

Usage: probe_cli_test.py PATH-TO-tether-probe golden|tty

golden: the table and the JSON output of every outcome class the network
  can produce on loopback (connected, refused, timeout, unreachable,
  resolve_failed, bad_input, reply_failed) compared with
  testdata/{table,json}.golden after ports and times are replaced by
  names; one exit-code check per class; usage errors.
  UPDATE_GOLDEN=DIR writes the golden files to DIR instead.
tty: the live view with 200 targets under tmux (the screen must show the
  progress line and pending targets; Ctrl-C cancels them: exit 9), under
  `script` with TERM=dumb (no escape byte at all) and with NO_COLOR (cursor
  movement, no colour).

Every wait is on a condition with a bounded timeout; nothing sleeps and
hopes. Only 127.0.0.0/8 and ::1 are ever connected to.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROBE = os.path.abspath(sys.argv[1])
MODE = sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
LONG_HOST = "a" * 300  # too long a host: the library says bad input
SEND = "caf\u00e9\x01!"  # the reply shows UTF-8 as is, a control escaped


def wait_for(what, cond, timeout=30.0):
    """Polls cond() until it returns something true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    sys.exit("FAIL: timed out waiting for " + what)


class Servers:
    """An echo server, a refusing port, a hanging port and a silent one."""

    def __init__(self):
        self.sockets = []
        self.echo = self._listen(64)
        threading.Thread(target=self._serve, daemon=True).start()
        refusing = self._bound()
        self.refusing = refusing.getsockname()[1]
        self.hanging = self._hanging()
        self.more_hanging = [self._hanging() for _ in range(189)]
        self.silent = self._listen(64).getsockname()[1]  # accepts, never reads
        self.echo_port = self.echo.getsockname()[1]

    def _hanging(self):
        """A port whose accept queue is full: further SYNs are dropped."""
        s = self._listen(0)
        filler = socket.create_connection(("127.0.0.1", s.getsockname()[1]))
        self.sockets.append(filler)
        return s.getsockname()[1]

    def _bound(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        self.sockets.append(s)
        return s

    def _listen(self, backlog):
        s = self._bound()
        s.listen(backlog)
        return s

    def _serve(self):
        while True:
            conn, _ = self.echo.accept()
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.sendall(data)
        conn.close()

    def names(self):
        return {self.echo_port: "ECHO", self.refusing: "REFUSING",
                self.hanging: "HANGING", self.silent: "SILENT"}


def run(*args, stdin=None):
    p = subprocess.run([PROBE, *args], stdin=subprocess.DEVNULL if stdin is None
                       else None, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def normalize(text, servers):
    for port, name in servers.names().items():
        text = re.sub(r"(?<=[:\]])%d\b" % port, name, text)
        text = text.replace('"port": %d,' % port, '"port": "%s",' % name)
    text = re.sub(r"(?<=127\.0\.0\.1:)\d+\b", "LOCALPORT", text)
    text = re.sub(r"\b\d+(\.\d+)? (ms|s)\b", "TIME", text)
    return re.sub(r" +", " ", text)


def normalize_json(line, servers):
    obj = json.loads(line)
    for key in ("time_ms", "elapsed_ms"):
        if key in obj:
            obj[key] = "TIME"
    for a in obj.get("attempts", []):
        a["time_ms"] = "TIME"
    if obj.get("outcome") == "timeout":
        # The library words a timeout two ways, depending on whether the
        # whole-connect deadline or the attempt noticed first.
        obj["message"] = "TIMEOUT"
    return normalize(json.dumps(obj, ensure_ascii=False), servers)


def runs(s):
    """The golden runs: (arguments, expected exit code)."""
    e, r, h, q = s.echo_port, s.refusing, s.hanging, s.silent
    return [
        (["--send", SEND, "--timeout", "1", "127.0.0.1:%d" % e,
          "127.0.0.1:%d" % r, "127.0.0.1:%d" % h, "127.0.0.1:%d" % q,
          "127.255.255.255:%d" % e], 4),
        (["-6", "127.0.0.1:%d" % e, "%s:%d" % (LONG_HOST, e)], 2),
    ]


def golden():
    s = Servers()
    table, js = [], []
    for args, want in runs(s):
        rc, out, err = run(*args)
        assert rc == want, (args, rc, want, out, err)
        shown = " ".join(a if a != SEND else "'caf\u00e9\\x01!'" for a in args)
        table.append("$ tether-probe " + normalize(shown, s) + "\n")
        table.append(normalize(out, s))
        rc, out, err = run("--json", *args)
        assert rc == want, (args, rc, out, err)
        js.extend(normalize_json(l, s) + "\n" for l in out.splitlines())
    outputs = {"table.golden": "".join(table), "json.golden": "".join(js)}
    update = os.environ.get("UPDATE_GOLDEN")
    for name, got in outputs.items():
        if update:
            with open(os.path.join(update, name), "w", encoding="utf-8") as f:
                f.write(got)
            continue
        with open(os.path.join(HERE, "testdata", name), encoding="utf-8") as f:
            want = f.read()
        if got != want:
            sys.exit("FAIL: %s differs; got:\n%s" % (name, got))
    exit_codes(s)
    usage_errors()
    print("PASS golden")


def exit_codes(s):
    e, r, h, q = s.echo_port, s.refusing, s.hanging, s.silent
    cases = [
        (0, ["127.0.0.1:%d" % e]),
        (0, ["--send", "x", "127.0.0.1:%d" % e]),
        (2, ["%s:80" % LONG_HOST]),
        (3, ["-6", "127.0.0.1:%d" % e]),
        (4, ["127.255.255.255:%d" % e]),
        (4, ["--local-address", "192.0.2.1", "127.0.0.1:%d" % e]),
        (5, ["--timeout", "0.5", "127.0.0.1:%d" % h]),
        (6, ["127.0.0.1:%d" % r]),
        (10, ["--send", "x", "--timeout", "0.5", "127.0.0.1:%d" % q]),
        # The worst class wins whatever the order.
        (5, ["--timeout", "0.5", "127.0.0.1:%d" % r, "127.0.0.1:%d" % h]),
        (3, ["-4", "[::1]:%d" % e, "127.0.0.1:%d" % r]),
    ]
    for want, args in cases:
        rc, out, err = run(*args)
        assert rc == want, (args, rc, want, out, err)
    # Targets from stdin, a file, and a port range.
    lines = "# refusing\n127.0.0.1:%d  # trailing comment\n\n" % r
    rc, out, _ = run("--json", "-f", "-", "127.0.0.1:%d-%d" % (e, e), stdin=lines.encode())
    rows = [json.loads(l) for l in out.splitlines()]
    assert [x.get("outcome") for x in rows] == ["connected", "refused", None], rows
    assert rc == 6 and rows[-1]["exit_code"] == 6, (rc, rows)


def usage_errors():
    cases = [
        (["--bogus", "127.0.0.1:1"], "--bogus"),
        (["--timeout", "5x", "127.0.0.1:1"], '--timeout "5x"'),
        ([":80"], "host is empty"),
        (["[]:80"], "host is empty"),
        (["host:"], '"host:"'),
        (["localhost:+80"], '"localhost:+80"'),
        (["localhost: 80"], '"localhost: 80"'),
        (["h:9-1"], "port range"),
        (["--send-file", "/", "127.0.0.1:1"], "Is a directory"),
        (["--family", "5", "127.0.0.1:1"], '--family "5"'),
        (["--local-address", "nope", "127.0.0.1:1"], '--local-address "nope"'),
        (["-f", "/nonexistent"], "No such file"),
        ([], "no targets"),
    ]
    for args, needle in cases:
        rc, out, err = run(*args)
        assert rc == 2, (args, rc, err)
        assert err.count("\n") == 1 and needle in err, (args, err)
        assert out == "", (args, out)
    rc, out, _ = run("--timeout", "5", "--help")
    assert rc == 0 and "Exit status" in out and '"outcome"' in out, out


def targets_file(s, directory):
    """200 targets: 10 that connect at once, 190 that hang (all distinct)."""
    path = os.path.join(directory, "targets")
    hanging = [s.hanging] + s.more_hanging
    with open(path, "w") as f:
        for i in range(200):
            port = s._listen(64) if i % 20 == 0 else hanging.pop(0)
            if i % 20 == 0:
                port = port.getsockname()[1]  # accepts: connects at once
            f.write("127.0.0.1:%d\n" % port)
    return path


def tmux_live_view(s, directory, probe_args):
    sock = os.path.join(directory, "tmux")
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    exit_file = os.path.join(directory, "exit")
    # The shell survives the Ctrl-C (a trap, not an ignored signal, so the
    # probe gets the default disposition) to record the probe's exit status,
    # then keeps the pane open (cat reads the terminal until kill-server), so
    # tmux never drops output still unread when the process exits.
    command = "trap : INT; %s %s; echo $? > %s; exec cat >/dev/null" % (
        PROBE, " ".join(probe_args), exit_file)
    subprocess.run(tmux + ["new-session", "-d", "-x", "110", "-y", "40",
                           "-s", "probe", "sh", "-c", command], check=True)

    def screen():
        return subprocess.run(tmux + ["capture-pane", "-p", "-t", "probe"],
                              capture_output=True, text=True).stdout

    def live():
        text = screen()
        pending = text.count("connecting,")
        ok = re.search(r"tether-probe: \d+/200 done: \d+ connected, 0 failed, "
                       r"190 pending; \d+/s, ", text) and pending >= 30
        return text if ok else None

    try:
        shot = wait_for("the live view with 190 pending targets", live)
        out = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", directory)
        with open(os.path.join(out, "live_view_200.txt"), "w") as f:
            f.write(shot)
        print("--- live view, 200 targets ---\n" + shot + "------")
        assert "more pending" in shot, shot
        subprocess.run(tmux + ["send-keys", "-t", "probe", "C-c"], check=True)
        wait_for("the probe to exit", lambda: os.path.exists(exit_file) and
                 open(exit_file).read().strip())
        rc = int(open(exit_file).read())
        assert rc == 9, rc

        def history():
            text = subprocess.run(tmux + ["capture-pane", "-p", "-S", "-", "-t",
                                          "probe"], capture_output=True,
                                  text=True).stdout
            return text if "200 targets in" in text else None

        # tmux may still be reading the last of the output.
        final = wait_for("the final table on screen", history)
        assert "190 cancelled, 10 connected" in final, final[-3000:]
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


def script_run(directory, env, probe_args):
    out = os.path.join(directory, "typescript")
    command = "env %s %s %s" % (env, PROBE, " ".join(probe_args))
    p = subprocess.run(["script", "-q", "-e", "-c", command, out],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    with open(out, "rb") as f:
        return p.returncode, f.read()


def tty():
    s = Servers()
    directory = tempfile.mkdtemp(prefix="probe", dir="/tmp")  # short: tmux socket
    try:
        targets = targets_file(s, directory)
        tmux_live_view(s, directory, ["-f", targets, "--timeout", "60"])
        rc, data = script_run(directory, "TERM=dumb", ["-f", targets, "--timeout", "1.5"])
        assert rc == 5, (rc, data[-2000:])
        assert b"\x1b" not in data, data[-2000:]
        assert re.search(rb"tether-probe: \d+/200 done", data), data[-2000:]
        assert b"190 timed out, 10 connected" in data, data[-2000:]
        rc, data = script_run(directory, "TERM=xterm NO_COLOR=1",
                              ["-f", targets, "--timeout", "1.5"])
        assert rc == 5 and b"\x1b[2K" in data and b"\x1b[32m" not in data, data[-2000:]
        rc, data = script_run(directory, "TERM=xterm", ["-f", targets, "--timeout", "1.5"])
        assert rc == 5 and b"\x1b[32m" in data, data[-2000:]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print("PASS tty")


{"golden": golden, "tty": tty}[MODE]()
