"""PaddleSpeech: local model folders are checked up front; the paddlespeech_server HTTP client
runs against a local HTTP server that speaks the documented restful API."""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from speech_support import FIXTURES

from ivr.errors import ConfigError, DependencyUnavailableError
from speech.audio import Audio, read_wav, wav_bytes, wav_from_bytes
from speech.paddlespeech import (
    PaddleSpeechASR,
    PaddleSpeechServerASR,
    PaddleSpeechServerTTS,
    PaddleSpeechTTS,
    resolve_asr_files,
    resolve_tts_files,
)


class _Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        if self.path == "/paddlespeech/tts":
            speed, rate = body.get("speed", 1.0), body.get("sample_rate", 0)
            if not 0 < speed <= 3 or rate not in (0, 8000, 16000):
                self._reply(
                    {"success": False, "code": 400, "message": {"description": "param error"}}
                )
                return
            out_rate = rate or 24000
            seconds = 0.2 * len(body["text"])
            t = np.arange(int(seconds * out_rate)) / out_rate
            audio = Audio.from_samples(0.3 * np.sin(2 * np.pi * 300 * t), out_rate)
            self._reply(
                {
                    "success": True,
                    "code": 200,
                    "message": {"description": "success."},
                    "result": {
                        "lang": "zh",
                        "spk_id": body.get("spk_id", 0),
                        "speed": speed,
                        "volume": body.get("volume", 1.0),
                        "sample_rate": out_rate,
                        "duration": seconds,
                        "save_path": None,
                        "audio": base64.b64encode(wav_bytes(audio)).decode(),
                    },
                }
            )
        elif self.path == "/paddlespeech/asr":
            audio = wav_from_bytes(base64.b64decode(body["audio"]))
            ok = (
                body["audio_format"] == "wav"
                and body["sample_rate"] == audio.sample_rate
                and body["lang"] == "zh_cn"
            )
            text = "我要投诉你们的服务" if ok and audio.duration_s > 1 else ""
            self._reply(
                {
                    "success": True,
                    "code": 0,
                    "message": {"description": "success"},
                    "result": {"transcription": text},
                }
            )
        else:
            self.send_error(404)


@pytest.fixture
def server_url() -> Iterator[str]:
    _Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_server_tts(server_url: str, rate: int) -> None:
    tts = PaddleSpeechServerTTS(server_url, spk_id=3)
    audio = await tts.synthesize("您好欢迎致电", rate)
    assert audio.sample_rate == rate and audio.duration_s == pytest.approx(1.2, abs=0.01)
    request = _Handler.requests[-1]
    assert request["path"] == "/paddlespeech/tts" and request["sample_rate"] == rate
    assert request["spk_id"] == 3 and request["text"] == "您好欢迎致电"


async def test_server_tts_error_reply(server_url: str) -> None:
    with pytest.raises(DependencyUnavailableError, match="code 400"):
        await PaddleSpeechServerTTS(server_url, speed=5.0).synthesize("你好", 8000)


async def test_server_asr(server_url: str) -> None:
    asr = PaddleSpeechServerASR(server_url)
    result = await asr.transcribe(read_wav(FIXTURES / "a11.wav"))
    assert result.text == "我要投诉你们的服务"
    request = _Handler.requests[-1]
    assert request["path"] == "/paddlespeech/asr" and request["sample_rate"] == 16000
    stream = asr.open_stream(8000)
    await stream.feed(read_wav(FIXTURES / "a11.wav").pcm)
    assert (await stream.finish()).text == result.text


async def test_server_down() -> None:
    with pytest.raises(DependencyUnavailableError):
        await PaddleSpeechServerTTS("http://127.0.0.1:9", timeout_s=2).synthesize("你好")


def _tts_folders(root: Path) -> tuple[Path, Path]:
    am, voc = root / "fastspeech2_csmsc", root / "mb_melgan_csmsc"
    am.mkdir(parents=True)
    voc.mkdir(parents=True)
    for name in ("default.yaml", "snapshot_iter_76000.pdz", "speech_stats.npy", "phone_id_map.txt"):
        (am / name).write_text("x")
    for name in ("default.yaml", "snapshot_iter_1000000.pdz", "feats_stats.npy"):
        (voc / name).write_text("x")
    return am, voc


def test_tts_folders_resolved(tmp_path: Path) -> None:
    am, voc = _tts_folders(tmp_path)
    files = resolve_tts_files(am, voc)
    assert files.am_ckpt.name == "snapshot_iter_76000.pdz"
    assert files.voc_stat.name == "feats_stats.npy"


@pytest.mark.parametrize(
    "missing",
    ["speech_stats.npy", "phone_id_map.txt", "feats_stats.npy", "snapshot_iter_1000000.pdz"],
)
def test_tts_missing_file_named(tmp_path: Path, missing: str) -> None:
    am, voc = _tts_folders(tmp_path)
    next(p for p in (am / missing, voc / missing) if p.exists()).unlink()
    with pytest.raises(ConfigError, match=r"\.pdz" if missing.endswith(".pdz") else missing):
        resolve_tts_files(am, voc)


def test_missing_folders_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="acoustic model folder not found"):
        resolve_tts_files(tmp_path / "am", tmp_path / "voc")
    with pytest.raises(ConfigError, match="ASR folder not found"):
        resolve_asr_files(tmp_path / "asr")
    (tmp_path / "asr").mkdir()
    (tmp_path / "asr" / "model.yaml").write_text("x")
    with pytest.raises(ConfigError, match="pdparams"):
        resolve_asr_files(tmp_path / "asr")


@pytest.mark.skipif(
    importlib.util.find_spec("paddlespeech") is not None,
    reason="paddlespeech installed: the missing-library path cannot be shown",
)
def test_complete_folders_without_paddlespeech_say_what_to_install(tmp_path: Path) -> None:
    am, voc = _tts_folders(tmp_path)
    with pytest.raises(DependencyUnavailableError, match="pip install paddlepaddle"):
        PaddleSpeechTTS(am, voc)
    (tmp_path / "asr").mkdir()
    (tmp_path / "asr" / "model.yaml").write_text("x")
    (tmp_path / "asr" / "avg_10.pdparams").write_text("x")
    with pytest.raises(DependencyUnavailableError, match="paddle"):
        PaddleSpeechASR(tmp_path / "asr")
