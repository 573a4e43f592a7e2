"""Rasa NLU featurizer: toneless pinyin beside the characters, so ASR homophone slips still match.

Whisper hears 别再骚扰我了 as 别在手摇, 工号 as 功耗, 客服 as 克服, 账单 as 障单: other characters,
the same (or a near) sound. Character and word n-grams miss these; pinyin n-grams do not. For each
message this component adds sparse count features over

- ``s:<syllable>`` and ``s2:<syl>_<syl>`` — toneless pinyin of the Han characters (pypinyin,
  phrase-aware), unigrams and bigrams;
- ``f:<syllable>`` and ``f2:...`` — the same, "fuzzy": the sound distinctions that Mandarin
  speakers from the south and ASR both blur merged (zh/z, ch/c, sh/s, n/l, ing/in, eng/en,
  ang/an, h/f before u),

with a vocabulary fitted on the training data. Runs inside Rasa (``.venv-rasa``, which pins
pypinyin); configured in ``config.yml`` after the tokenizer.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)

VOCABULARY_FILE = "pinyin_vocabulary.json"
_HAN = re.compile(r"[\u4e00-\u9fff]")
_FUZZY = (
    (re.compile(r"^zh"), "z"),
    (re.compile(r"^ch"), "c"),
    (re.compile(r"^sh"), "s"),
    (re.compile(r"^l"), "n"),
    (re.compile(r"^hu"), "fu"),
    (re.compile(r"ing$"), "in"),
    (re.compile(r"eng$"), "en"),
    (re.compile(r"ang$"), "an"),
)


def fuzzy(syllable: str) -> str:
    """The syllable with commonly blurred distinctions merged (``shi`` → ``si``, ``ling`` →
    ``nin``)."""
    for pattern, repl in _FUZZY:
        syllable = pattern.sub(repl, syllable)
    return syllable


@lru_cache(maxsize=65536)
def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of each Han character of ``text`` in order (other characters skipped)."""
    from pypinyin import Style, lazy_pinyin

    han = "".join(_HAN.findall(text))
    if not han:
        return ()
    return tuple(lazy_pinyin(han, style=Style.NORMAL, errors="ignore"))


def pinyin_features(text: str) -> list[str]:
    """The feature names of one text (with repeats: values are counts)."""
    syl = syllables(text)
    fz = tuple(fuzzy(s) for s in syl)
    out = [f"s:{s}" for s in syl] + [f"f:{s}" for s in fz]
    out += [f"s2:{a}_{b}" for a, b in itertools.pairwise(syl)]
    out += [f"f2:{a}_{b}" for a, b in itertools.pairwise(fz)]
    return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class PinyinFeaturizer(SparseFeaturizer, GraphComponent):  # type: ignore[misc]
    """Sparse pinyin n-gram counts (sentence and per-token sequence features)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "min_count": 1}

    @classmethod
    def required_packages(cls) -> list[str]:
        return ["pypinyin"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("min_count", 1)) < 1:
            raise ValueError("min_count must be >= 1")

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: dict[str, int] | None = None,
    ) -> None:
        SparseFeaturizer.__init__(self, execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary: dict[str, int] = vocabulary or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PinyinFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> PinyinFeaturizer:
        try:
            with model_storage.read_from(resource) as path:
                vocabulary = json.loads((path / VOCABULARY_FILE).read_text(encoding="utf-8"))
        except ValueError:
            log.debug("no pinyin vocabulary stored; features will be empty")
            vocabulary = {}
        return cls(config, model_storage, resource, execution_context, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        counts: dict[str, int] = {}
        for message in training_data.training_examples:
            text = message.get(TEXT)
            if not text:
                continue
            for name in set(pinyin_features(text)):
                counts[name] = counts.get(name, 0) + 1
        keep = sorted(k for k, c in counts.items() if c >= int(self._config["min_count"]))
        self.vocabulary = {name: i for i, name in enumerate(keep)}
        with self._model_storage.write_to(self._resource) as path:
            (path / VOCABULARY_FILE).write_text(
                json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text:
                self._featurize(message, text)
        return messages

    def _featurize(self, message: Message, text: str) -> None:
        width = max(1, len(self.vocabulary))
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        rows, cols = [], []
        for row, token in enumerate(tokens):
            for name in pinyin_features(token.text):
                index = self.vocabulary.get(name)
                if index is not None:
                    rows.append(row)
                    cols.append(index)
        sequence = scipy.sparse.coo_matrix(
            (np.ones(len(rows)), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
            shape=(max(1, len(tokens)), width),
        )
        sentence_cols = [self.vocabulary[n] for n in pinyin_features(text) if n in self.vocabulary]
        sentence = scipy.sparse.coo_matrix(
            (
                np.ones(len(sentence_cols)),
                (
                    np.zeros(len(sentence_cols), dtype=np.int64),
                    np.array(sentence_cols, dtype=np.int64),
                ),
            ),
            shape=(1, width),
        )
        sentence.sum_duplicates()
        sequence.sum_duplicates()
        self.add_features_to_message(sequence, sentence, TEXT, message)
