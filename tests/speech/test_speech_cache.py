"""Prompt cache: keyed by engine, voice, rate and text; warm-up; disk reuse; no text stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

from speech.audio import Audio, write_wav
from speech.cache import CachedTTS, PromptCache
from speech.fakes import ToneTTS

STATIC = ["您好，这里是示例银行。", "请问您是否同意？", "投资有风险，理财需谨慎。"]


class OtherVoice(ToneTTS):
    voice = "b880"

    @property
    def cache_identity(self) -> str:
        return "tone|b880|v1"


async def test_warm_then_served_from_disk_without_tts(tmp_path: Path) -> None:
    tts = ToneTTS()
    cache = PromptCache(tts, tmp_path)
    report = await cache.warm([*STATIC, STATIC[0], "  "])
    assert (report.total, report.synthesized, report.already_cached) == (3, 3, 0)
    assert tts.calls == 3
    again = await cache.warm(STATIC)
    assert again.synthesized == 0 and tts.calls == 3

    fresh = PromptCache(tts, tmp_path)  # a new process: memory empty, disk warm
    for text in STATIC:
        assert fresh.lookup(text) is not None
    assert tts.calls == 3 and fresh.stats.disk_hits == 3
    await fresh.get(STATIC[0])
    assert fresh.stats.memory_hits == 1


async def test_dynamic_text_cached_on_demand(tmp_path: Path) -> None:
    tts = ToneTTS()
    cache = PromptCache(tts, tmp_path)
    assert cache.lookup("您的预约已确认") is None
    first = await cache.get("您的预约已确认")
    second = await cache.get("您的预约已确认")
    assert first == second and tts.calls == 1
    assert cache.path_for("您的预约已确认").is_file()


async def test_key_depends_on_engine_voice_rate_and_text(tmp_path: Path) -> None:
    a = PromptCache(ToneTTS(), tmp_path)
    keys = {
        a.key("你好"),
        a.key("你好！"),
        PromptCache(OtherVoice(), tmp_path).key("你好"),
        PromptCache(ToneTTS(), tmp_path, sample_rate=16000).key("你好"),
    }
    assert len(keys) == 4
    assert a.key("你好") == PromptCache(ToneTTS(), tmp_path / "x").key("你好")


async def test_concurrent_requests_synthesise_once(tmp_path: Path) -> None:
    tts = ToneTTS()
    cache = PromptCache(tts, tmp_path)
    results = await asyncio.gather(*(cache.get("请稍候") for _ in range(5)))
    assert tts.calls == 1 and len({r.pcm for r in results}) == 1


async def test_sensitive_text_never_written(tmp_path: Path) -> None:
    cache = PromptCache(ToneTTS(), tmp_path)
    await cache.get("张三先生您好，您的账单金额为五千元", sensitive=True)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # noqa: ASYNC240


async def test_files_hold_no_text(tmp_path: Path) -> None:
    cache = PromptCache(ToneTTS(), tmp_path)
    await cache.warm(STATIC)
    for path in tmp_path.rglob("*.wav"):  # noqa: ASYNC240
        data = path.read_bytes()
        for text in STATIC:
            assert text.encode("utf-8") not in data and text not in str(path)


async def test_corrupt_entry_is_resynthesised(tmp_path: Path) -> None:
    tts = ToneTTS()
    cache = PromptCache(tts, tmp_path)
    await cache.warm(STATIC[:1])
    cache.path_for(STATIC[0]).write_bytes(b"torn")
    fresh = PromptCache(tts, tmp_path)
    audio = await fresh.get(STATIC[0])
    assert audio.duration_s > 0 and tts.calls == 2


async def test_cached_tts_resamples_foreign_audio(tmp_path: Path) -> None:
    class Wideband(ToneTTS):
        async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
            return await super().synthesize(text, 16000)

    cached = CachedTTS(Wideband(), tmp_path)
    audio = await cached.synthesize("你好", 8000)
    assert audio.sample_rate == 8000
    write_wav(tmp_path / "check.wav", audio)
