"""The statistical half of the classifier: a linear model over TF-IDF features, numpy only.

Training (scikit-learn, training.py) exports vocabulary, IDF and weights to an .npz file, so the
router needs neither scikit-learn nor the training data at run time. Scoring a message is a
gather of a few dozen weight rows and one softmax.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .features import features

FORMAT = "switchboard-linear-v1"
DEFAULT_MODEL = Path(__file__).with_name("model.npz")

FloatArray = npt.NDArray[np.float32]


class ModelError(Exception):
    """The model file is missing, unreadable or not a Switchboard model."""


@dataclass(frozen=True)
class LinearModel:
    vocabulary: dict[str, int]
    idf: FloatArray
    coef: FloatArray  # (n_features, n_classes)
    intercept: FloatArray
    classes: tuple[str, ...]
    meta: dict[str, object]

    @classmethod
    def load(cls, path: Path | None = None) -> LinearModel:
        source = path or DEFAULT_MODEL
        try:
            with np.load(source, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode("utf-8"))
                if meta.get("format") != FORMAT:
                    raise ModelError(f"{source}: not a {FORMAT} model")
                vocab = bytes(data["vocab"]).decode("utf-8").split("\n")
                classes = tuple(bytes(data["classes"]).decode("utf-8").split("\n"))
                model = cls(
                    vocabulary={f: i for i, f in enumerate(vocab)},
                    idf=data["idf"].astype(np.float32),
                    coef=data["coef"].astype(np.float32),
                    intercept=data["intercept"].astype(np.float32),
                    classes=classes,
                    meta=meta,
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{source}: cannot load model: {exc}") from exc
        if model.coef.shape != (len(vocab), len(classes)):
            raise ModelError(f"{source}: weight matrix does not match vocabulary and classes")
        return model

    @property
    def label_map(self) -> dict[str, str]:
        """Foreign training labels -> our intent or skill group (empty when all are ours)."""
        raw = self.meta.get("label_map")
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}

    def save(self, path: Path) -> None:
        vocab = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        np.savez_compressed(
            path,
            meta=np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8),
            vocab=np.frombuffer("\n".join(vocab).encode(), dtype=np.uint8),
            classes=np.frombuffer("\n".join(self.classes).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float16),
            intercept=self.intercept.astype(np.float32),
        )

    def predict(self, text: str) -> FloatArray | None:
        """Class probabilities, or None when the text has no feature the model knows."""
        counts: dict[int, int] = {}
        vocab = self.vocabulary
        for feat in features(text):
            j = vocab.get(feat)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return None
        idx = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = np.fromiter(
            (1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts)
        )
        weights = tf * self.idf[idx]
        weights /= np.sqrt(float(weights @ weights))
        scores = weights @ self.coef[idx] + self.intercept
        scores = np.exp(scores - scores.max())
        result: FloatArray = scores / scores.sum()
        return result
