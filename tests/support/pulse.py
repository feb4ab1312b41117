"""A real, private PulseAudio daemon with virtual devices, for audio tests and the audio bench.

Layout (see /work/shared/headless-recipes.md, "Audio"): null sink `spk` is the speaker (its monitor is what
the user would hear), null sink `mic` carries what a test "says" and `vmic` (remap of mic.monitor) is the
microphone. Two low-latency `parec` keepers hold both monitors open: without them the first callback of a new
stream takes 0.5–1.7 s.

The daemon lives under its own runtime dir and PULSE_SERVER points at its socket explicitly, so other fixtures
that change XDG_RUNTIME_DIR (the Secret Service one does) cannot redirect this process to another server.
PortAudio is re-initialised after start so a PortAudio initialised earlier (sounddevice initialises on import)
sees the server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests.support.sounds import read_wav, write_wav

_ENV_KEYS = ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_SINK", "PULSE_SOURCE", "PULSE_CLIENTCONFIG")


class PulseMissing(RuntimeError):
    """The pulseaudio binaries are not installed; tests must fail, not skip (CI installs them)."""


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PulseMissing(
            f"`{name}` is not installed: install the apt packages pulseaudio and pulseaudio-utils"
        )
    return path


def reinitialise_portaudio() -> None:
    """PortAudio enumerates devices (and ALSA reads its config) only at initialisation: restart it."""
    from desktop.audio.devices import rescan

    rescan()


@dataclass
class Playing:
    """A `paplay` started in the background; wait() blocks until it has played everything."""

    process: subprocess.Popen[bytes]
    path: Path

    def wait(self, timeout: float = 30.0) -> None:
        self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)


@dataclass
class Recording:
    """A `parecord` of a sink's monitor at 24 kHz mono s16; stop() flushes (SIGINT) and returns the
    samples."""

    process: subprocess.Popen[bytes]
    path: Path
    started_at: float
    samples: np.ndarray | None = None

    def stop(self, timeout: float = 10.0) -> np.ndarray:
        if self.samples is None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                self.process.wait(timeout=timeout)
            self.samples, _rate = read_wav(self.path)
        return self.samples


@dataclass
class PulseServer:
    """One private daemon. Use start()/stop() directly (the bench) or the `pulse` fixture (tests)."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    _daemon_pid: int | None = None
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _saved_env: dict[str, str | None] = field(default_factory=dict)
    _counter: int = 0

    @property
    def runtime(self) -> Path:
        return self.root / "run"

    def start(self, timeout: float = 20.0) -> None:
        pulseaudio = _binary("pulseaudio")
        for tool in ("pactl", "pacmd", "paplay", "parecord", "parec"):
            _binary(tool)
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        pulse_dir = self.runtime / "pulse"
        pulse_dir.mkdir(mode=0o700, exist_ok=True)
        client_conf = self.root / "client.conf"
        client_conf.write_text("autospawn = no\n")  # a vanished server must stay vanished, never respawn
        socket = pulse_dir / "native"
        self.env = {
            "XDG_RUNTIME_DIR": str(self.runtime),
            "PULSE_RUNTIME_PATH": str(pulse_dir),
            "PULSE_SERVER": f"unix:{socket}",
            "PULSE_CLIENTCONFIG": str(client_conf),
        }
        log = self.root / "pulse.log"
        subprocess.run(
            [
                pulseaudio,
                "-D",
                "-n",
                "--exit-idle-time=-1",
                "--disallow-exit",
                f"--log-target=file:{log}",
                "--load=module-native-protocol-unix",
                "--load=module-cli-protocol-unix",
                "--load=module-null-sink sink_name=spk",
            ],
            env=self._child_env(),
            check=True,
            timeout=timeout,
            capture_output=True,
        )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"pulseaudio did not come up; see {log}")
            time.sleep(0.05)
        pid_file = pulse_dir / "pid"
        if pid_file.exists():
            self._daemon_pid = int(pid_file.read_text().split()[0])
        self.pactl("load-module", "module-null-sink", "sink_name=mic")
        self.pactl("load-module", "module-remap-source", "master=mic.monitor", "source_name=vmic")
        self.pactl("set-default-sink", "spk")
        self.pactl("set-default-source", "vmic")
        for monitor in ("mic.monitor", "spk.monitor"):
            self._keep(monitor)
        self._saved_env = {key: os.environ.get(key) for key in (*_ENV_KEYS, "XDG_RUNTIME_DIR")}
        os.environ.update(self.env)
        reinitialise_portaudio()

    def stop(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        for child in self._children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        self._children.clear()
        if self._daemon_pid is not None and _alive(self._daemon_pid):
            os.kill(
                self._daemon_pid, signal.SIGTERM
            )  # `pactl exit` is refused: the daemon runs --disallow-exit
            deadline = time.monotonic() + 5
            while _alive(self._daemon_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(self._daemon_pid):
                os.kill(self._daemon_pid, signal.SIGKILL)
        elif self.env:
            subprocess.run(
                [_binary("pulseaudio"), "-k"], env=self._child_env(), capture_output=True, check=False
            )
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            reinitialise_portaudio()
        except Exception:  # the process is ending; a PortAudio that cannot restart does not matter now
            pass

    # -- devices ----
    def pactl(self, *args: str) -> str:
        result = subprocess.run(
            [_binary("pactl"), *args], env=self._child_env(), capture_output=True, text=True, timeout=20
        )
        if result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def load_sink(self, name: str, rate: int, channels: int = 1) -> int:
        """A null sink running at `rate` (an output device of that rate); returns the module id for
        unload()."""
        return int(
            self.pactl(
                "load-module", "module-null-sink", f"sink_name={name}", f"rate={rate}", f"channels={channels}"
            )
        )

    def load_source(self, name: str, rate: int) -> tuple[int, int]:
        """A microphone at `rate`: a null sink `<name>_in` (play into it) remapped to source `name`.

        Returns both module ids (source first: unloading it makes the microphone vanish)."""
        sink = self.load_sink(f"{name}_in", rate)
        source = int(
            self.pactl(
                "load-module",
                "module-remap-source",
                f"master={name}_in.monitor",
                f"source_name={name}",
                f"rate={rate}",
                "channels=1",
            )
        )
        return source, sink

    def unload(self, module: int) -> None:
        self.pactl("unload-module", str(module))

    def kill_streams(self, kind: str = "sink-input", pid: int | None = None) -> int:
        """Kills this process's playback ("sink-input") or recording ("source-output") streams server-side.

        This is how a stream dies when its device is really gone (with nowhere to move it); plain unload() of
        a device makes Pulse move the stream to the default device instead. Returns how many were killed."""
        pid = os.getpid() if pid is None else pid
        listing = self.pactl("list", f"{kind}s")
        killed = 0
        current: str | None = None
        for line in listing.splitlines():
            line = line.strip()
            if line.startswith(("Sink Input #", "Source Output #")):
                current = line.split("#", 1)[1]
            elif line.startswith("application.process.id") and current is not None:
                if line.split("=", 1)[1].strip().strip('"') == str(pid):
                    subprocess.run(
                        [_binary("pacmd"), f"kill-{kind}", current],
                        env=self._child_env(),
                        capture_output=True,
                        check=True,
                        timeout=20,
                    )
                    killed += 1
        return killed

    def set_default_source(self, name: str) -> None:
        self.pactl("set-default-source", name)

    def set_default_sink(self, name: str) -> None:
        self.pactl("set-default-sink", name)

    # -- sound in and out ----
    def play_into(self, sink: str, sound: Path | np.ndarray, rate: int = 24000) -> Playing:
        """Plays a wav (or int16 samples at `rate`) into `sink` without blocking."""
        path = self._as_wav(sound, rate)
        process = subprocess.Popen(
            [_binary("paplay"), "-d", sink, "--latency-msec=20", str(path)],
            env=self._child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._children.append(process)
        return Playing(process, path)

    def stop_sounds(self) -> None:
        """Ends every sound still playing (an earlier test's speech must not reach this test's microphone)."""
        for child in self._children:
            if child.poll() is None and "paplay" in str(child.args[0]):
                child.terminate()
                child.wait(5)

    def play_into_mic(self, sound: Path | np.ndarray, rate: int = 24000) -> Playing:
        return self.play_into("mic", sound, rate)

    def record(self, source: str, rate: int = 24000) -> Recording:
        path = self._scratch("rec", ".wav")
        process = subprocess.Popen(
            [
                _binary("parecord"),
                "-d",
                source,
                f"--rate={rate}",
                "--channels=1",
                "--format=s16le",
                "--file-format=wav",
                "--latency-msec=20",
                str(path),
            ],
            env=self._child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._children.append(process)
        return Recording(process, path, time.monotonic())

    def record_speaker(self, rate: int = 24000) -> Recording:
        """Records what reached the speaker (spk.monitor); call .stop() to get the int16 samples."""
        return self.record("spk.monitor", rate)

    # -- internals ----
    def _child_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def _ready(self) -> bool:
        result = subprocess.run(
            [_binary("pactl"), "info"], env=self._child_env(), capture_output=True, timeout=10
        )
        return result.returncode == 0

    def _keep(self, monitor: str) -> None:
        keeper = subprocess.Popen(
            [_binary("parec"), "-d", monitor, "--latency-msec=20"],
            env=self._child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._children.append(keeper)

    def _scratch(self, stem: str, suffix: str) -> Path:
        self._counter += 1
        return self.root / f"{stem}-{self._counter}{suffix}"

    def _as_wav(self, sound: Path | np.ndarray, rate: int) -> Path:
        if isinstance(sound, Path | str):
            return Path(sound)
        path = self._scratch("play", ".wav")
        write_wav(path, np.asarray(sound, dtype=np.int16), rate)
        return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# A daemon that has just started makes its clients' audio threads cost several times more for its first 15-20 s
# (measured: two PortAudio streams with empty callbacks, 14 % of a core at once, 2-3 % after 20 s). A user's audio
# server has been running since login, so benches wait this long before measuring.
WARM_UP_S = 20.0


def start_pulse(root: Path | None = None) -> PulseServer:
    """Starts a private server (for scripts such as the bench); the caller must call .stop()."""
    server = PulseServer(Path(root) if root else Path(tempfile.mkdtemp(prefix="parley-pulse-")))
    server.start()
    return server


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    try:
        server.start()
    except PulseMissing as exc:
        server.stop()
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()
