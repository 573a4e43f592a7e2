"""PaddleSpeech's real in-process path on a tiny random-weight model (runs in ``.venv-paddle``).

    .venv-paddle/bin/python scripts/paddlespeech_check.py WORK_DIR

``scripts/paddlespeech_env.sh`` makes ``.venv-paddle`` (paddlepaddle 3.x, paddlespeech 1.5,
pinned by ``constraints/paddlespeech.txt``: their pins clash with the app's). This script writes
a model folder laid out like PaddleSpeech's released ``conformer_wenetspeech`` archive —
``conf/conformer.yaml`` (feature extraction inline), ``data/lang_char/vocab.txt``,
``data/mean_std.json``, ``exp/conformer/checkpoints/avg_1.pdparams`` — with a 1-block
Conformer of random weights (saved with ``paddle.save``), then recognises one second of
telephone audio through the app's own adapter (``speech.paddlespeech.PaddleSpeechASR`` →
``ASRExecutor``: config merge, model class lookup, ``paddle.load``, Kaldi fbank + CMVN,
attention-rescoring decode). Random weights give arbitrary characters from the vocabulary; what
is checked is that the real loading and inference path runs and returns a transcript. Prints
one JSON line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
logging.disable(logging.WARNING)

VOCAB = ["<blank>", "<unk>", "不", "需", "要", "好", "的", "别", "再", "打", "了", "<eos>"]
N_MELS = 20


def build(folder: Path) -> Path:
    import numpy as np
    import paddle
    import yaml
    from paddlespeech.s2t.models.u2 import U2Model

    (folder / "conf").mkdir(parents=True, exist_ok=True)
    lang = folder / "data" / "lang_char"
    lang.mkdir(parents=True, exist_ok=True)
    (lang / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    cmvn = folder / "data" / "mean_std.json"
    cmvn.write_text(
        json.dumps({"mean_stat": [0.0] * N_MELS, "var_stat": [1.0] * N_MELS, "frame_num": 1})
    )
    preprocess = {
        "process": [
            {
                "type": "fbank_kaldi",
                "fs": 16000,
                "n_mels": N_MELS,
                "n_shift": 160,
                "win_length": 400,
                "dither": 0.0,
            },
            {"type": "cmvn_json", "cmvn_path": str(cmvn)},
        ]
    }  # inline, as in the released model.yaml (the executor reads process[0] from it)
    config = {
        "cmvn_file": None,
        "cmvn_file_type": "json",
        "encoder": "conformer",
        "encoder_conf": {
            "output_size": 16,
            "attention_heads": 2,
            "linear_units": 32,
            "num_blocks": 1,
            "dropout_rate": 0.0,
            "positional_dropout_rate": 0.0,
            "attention_dropout_rate": 0.0,
            "input_layer": "conv2d",
            "normalize_before": True,
            "cnn_module_kernel": 3,
            "use_cnn_module": True,
            "activation_type": "swish",
            "pos_enc_layer_type": "rel_pos",
            "selfattention_layer_type": "rel_selfattn",
        },
        "decoder": "transformer",
        "decoder_conf": {
            "attention_heads": 2,
            "linear_units": 32,
            "num_blocks": 1,
            "dropout_rate": 0.0,
            "positional_dropout_rate": 0.0,
            "self_attention_dropout_rate": 0.0,
            "src_attention_dropout_rate": 0.0,
        },
        "model_conf": {"ctc_weight": 0.3, "lsm_weight": 0.1, "length_normalized_loss": False},
        "input_dim": N_MELS,
        "output_dim": len(VOCAB),
        "vocab_filepath": str(lang / "vocab.txt"),
        "unit_type": "char",
        "spm_model_prefix": "",
        "preprocess_config": preprocess,
        "decode": {
            "decoding_method": "attention_rescoring",
            "beam_size": 2,
            "ctc_weight": 0.5,
            "decoding_chunk_size": -1,
            "num_decoding_left_chunks": -1,
            "simulate_streaming": False,
        },
    }
    (folder / "conf" / "conformer.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    ckpt = folder / "exp" / "conformer" / "checkpoints" / "avg_1.pdparams"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    paddle.seed(0)
    np.random.seed(0)
    from yacs.config import CfgNode

    model = U2Model.from_config(CfgNode(config))
    paddle.save(model.state_dict(), str(ckpt))
    return folder


def _py310_compat() -> None:
    """The app targets Python 3.11; paddlespeech 1.5's dependency set installs on 3.10. The only
    3.11 feature the speech adapter's imports need is ``enum.StrEnum``."""
    import enum

    if not hasattr(enum, "StrEnum"):

        class StrEnum(str, enum.Enum):  # noqa: UP042 - Python 3.10 has no enum.StrEnum
            def __str__(self) -> str:
                return str(self.value)

        enum.StrEnum = StrEnum  # type: ignore[misc, attr-defined, unused-ignore]


def main() -> None:
    _py310_compat()
    work = Path(sys.argv[1])
    os.environ.setdefault("PPNLP_HOME", str(work / "ppnlp-home"))  # paddlenlp's cache, not ~
    folder = build(work / "conformer_wenetspeech-tiny")
    import numpy as np

    from speech.audio import Audio
    from speech.paddlespeech import PaddleSpeechASR

    asr = PaddleSpeechASR(folder)
    t = np.arange(8000) / 8000
    audio = Audio.from_samples(0.3 * np.sin(2 * np.pi * 300 * t), 8000)
    transcript = asr.transcribe_sync(audio)
    allowed = set("".join(VOCAB[2:-1]))
    print(
        json.dumps(
            {
                "ok": True,
                "engine": transcript.engine,
                "text": transcript.text,
                "in_vocabulary": all(ch in allowed for ch in transcript.text.replace(" ", "")),
                "config": str(asr.config.relative_to(folder)),
                "checkpoint": str(asr.ckpt.relative_to(folder)),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
