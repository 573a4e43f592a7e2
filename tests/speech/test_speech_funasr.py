"""FunASR in process: the real AutoModel loading path on a tiny random-weight Paraformer.

The model is generated here: FunASR's own registry builds a 1-block SANM Paraformer (16-dim),
its random weights are saved as ``model.pt`` next to ``config.yaml``, ``tokens.json`` and
``am.mvn``, and :class:`FunAsrASR` loads the folder through ``AutoModel(model=DIR,
disable_update=True)`` like a released model. The folder checks need no FunASR.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from speech_support import FIXTURES

from ivr.errors import ConfigError
from speech.asr_funasr import check_funasr_model_dir
from speech.audio import read_wav

TOKENS = ["<blank>", "<s>", "</s>", *"你好我要投诉服务", "<unk>"]
FEATURE_DIM = 80 * 7  # n_mels x lfr_m

TINY_CONFIG: dict[str, Any] = {
    "model": "Paraformer",
    "model_conf": {
        "ctc_weight": 0.0,
        "lsm_weight": 0.1,
        "length_normalized_loss": True,
        "predictor_weight": 1.0,
        "predictor_bias": 1,
        "sampling_ratio": 0.75,
    },
    "encoder": "SANMEncoder",
    "encoder_conf": {
        "output_size": 16,
        "attention_heads": 2,
        "linear_units": 32,
        "num_blocks": 1,
        "dropout_rate": 0.0,
        "positional_dropout_rate": 0.0,
        "attention_dropout_rate": 0.0,
        "input_layer": "pe",
        "pos_enc_class": "SinusoidalPositionEncoder",
        "normalize_before": True,
        "kernel_size": 11,
        "sanm_shfit": 0,
        "selfattention_layer_type": "sanm",
    },
    "decoder": "ParaformerSANMDecoder",
    "decoder_conf": {
        "attention_heads": 2,
        "linear_units": 32,
        "num_blocks": 1,
        "dropout_rate": 0.0,
        "positional_dropout_rate": 0.0,
        "self_attention_dropout_rate": 0.0,
        "src_attention_dropout_rate": 0.0,
        "att_layer_num": 1,
        "kernel_size": 11,
        "sanm_shfit": 0,
    },
    "predictor": "CifPredictorV2",
    "predictor_conf": {
        "idim": 16,
        "threshold": 1.0,
        "l_order": 1,
        "r_order": 1,
        "tail_threshold": 0.45,
    },
    "frontend": "WavFrontend",
    "frontend_conf": {
        "fs": 16000,
        "window": "hamming",
        "n_mels": 80,
        "frame_length": 25,
        "frame_shift": 10,
        "dither": 0.0,  # FunASR's default 1.0 adds random noise: random weights then decode noise
        "lfr_m": 7,
        "lfr_n": 6,
        "cmvn_file": "am.mvn",
    },
    "specaug": None,
    "normalize": None,
    "tokenizer": "CharTokenizer",
    "tokenizer_conf": {"unk_symbol": "<unk>"},
}


def write_model_folder(folder: Path, with_weights: bool = True) -> Path:
    """config.yaml, tokens.json, am.mvn (identity CMVN) and, if asked, random model.pt."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokens.json").write_text(json.dumps(TOKENS, ensure_ascii=False))
    zeros, ones = " ".join(["0"] * FEATURE_DIM), " ".join(["1"] * FEATURE_DIM)
    (folder / "am.mvn").write_text(
        f"<Nnet>\n<Splice> {FEATURE_DIM} {FEATURE_DIM}\n[ 0 ]\n"
        f"<AddShift> {FEATURE_DIM} {FEATURE_DIM}\n<LearnRateCoef> 0 [ {zeros} ]\n"
        f"<Rescale> {FEATURE_DIM} {FEATURE_DIM}\n<LearnRateCoef> 0 [ {ones} ]\n</Nnet>\n"
    )
    (folder / "config.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    if with_weights:
        import torch
        from funasr.auto.auto_model import AutoModel

        kwargs = json.loads(json.dumps(TINY_CONFIG))
        kwargs["frontend_conf"]["cmvn_file"] = str(folder / "am.mvn")
        kwargs["tokenizer_conf"]["token_list"] = str(folder / "tokens.json")
        model, _ = AutoModel.build_model(**kwargs, device="cpu", ncpu=1)
        torch.save(model.state_dict(), folder / "model.pt")
    return folder


def _missing_extra() -> str | None:
    for module in ("torch", "funasr", "kaldi_native_fbank"):
        if importlib.util.find_spec(module) is None:
            return (
                f"optional extra 'funasr' not installed ({module} missing): "
                "pip install -e '.[funasr]'"
            )
    return None


needs_funasr = pytest.mark.skipif(_missing_extra() is not None, reason=_missing_extra() or "")


@needs_funasr
def test_real_loading_path_with_tiny_random_model(tmp_path: Path) -> None:
    from speech.asr_funasr import FunAsrASR

    folder = write_model_folder(tmp_path / "paraformer-tiny")
    asr = FunAsrASR(folder, ncpu=1)
    result = asr.transcribe_sync(read_wav(FIXTURES / "a11.wav"))
    assert result.engine == "funasr" and result.is_final
    # Random weights: the text is noise, but made only of the model's own tokens.
    assert set(result.text) <= set("".join(TOKENS[3:-1]))
    assert result.end_s == pytest.approx(1.7625)


@needs_funasr
async def test_async_transcribe_and_buffered_stream(tmp_path: Path) -> None:
    from speech.asr_funasr import FunAsrASR

    asr = FunAsrASR(write_model_folder(tmp_path / "m"), ncpu=1)
    audio = read_wav(FIXTURES / "a02.wav")
    direct = await asr.transcribe(audio)
    stream = asr.open_stream(8000)
    assert await stream.feed(audio.pcm) == []
    assert (await stream.finish()).text == direct.text


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FunASR model folder not found"):
        check_funasr_model_dir(tmp_path / "nope")


@pytest.mark.parametrize("missing", ["config.yaml", "model.pt", "tokens.json", "am.mvn"])
def test_missing_file_is_named(tmp_path: Path, missing: str) -> None:
    folder = write_model_folder(tmp_path / "m", with_weights=False)
    (folder / "model.pt").write_bytes(b"stand-in")
    check_funasr_model_dir(folder)  # complete
    (folder / missing).unlink()
    with pytest.raises(ConfigError, match=missing.replace(".", r"\.")):
        check_funasr_model_dir(folder)


def test_configuration_json_names_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "ms"
    folder.mkdir()
    (folder / "configuration.json").write_text(
        json.dumps(
            {
                "file_path_metas": {
                    "init_param": "model.pt",
                    "config": "config.yaml",
                    "tokenizer_conf": {"token_list": "tokens.json"},
                }
            }
        )
    )
    (folder / "model.pt").write_bytes(b"x")
    (folder / "config.yaml").write_text("model: Paraformer\n")
    with pytest.raises(ConfigError, match=r"tokens\.json"):
        check_funasr_model_dir(folder)


@needs_funasr
def test_missing_file_error_comes_before_funasr(tmp_path: Path) -> None:
    from speech.asr_funasr import FunAsrASR

    folder = write_model_folder(tmp_path / "m", with_weights=False)
    with pytest.raises(ConfigError, match=r"model\.pt"):
        FunAsrASR(folder)
