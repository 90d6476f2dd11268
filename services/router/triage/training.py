"""Fit the linear model with scikit-learn and export it to numpy arrays.

scikit-learn is a training-only dependency (`pip install .[train]`); the router loads the
exported .npz with numpy alone. The vectoriser uses the run-time `features` function, so the
vocabulary and IDF it learns are exactly what inference recomputes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np

from .features import features
from .model import FORMAT, LinearModel

DEFAULT_C = 60.0
DEFAULT_MIN_DF = 2


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    c: float = DEFAULT_C,
    min_df: int = DEFAULT_MIN_DF,
    sources: Sequence[str] = (),
    label_map: Mapping[str, str] | None = None,
) -> LinearModel:
    """TF-IDF (sublinear tf, l2) + multinomial logistic regression over `labels`.

    `label_map` (stored in the model) maps labels that are not our own onto an intent or group.
    """
    try:
        from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
            TfidfVectorizer,
        )
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError("training needs scikit-learn: pip install '.[train]'") from exc
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two different labels")
    vectorizer = TfidfVectorizer(
        analyzer=features, sublinear_tf=True, min_df=min_df, dtype=np.float32
    )
    matrix = vectorizer.fit_transform(texts)
    clf = LogisticRegression(C=c, max_iter=3000)
    clf.fit(matrix, list(labels))
    vocab: dict[str, int] = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: sigmoid(w.x + b) == softmax([0, w.x + b])
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return LinearModel(
        vocabulary=vocab,
        idf=np.asarray(vectorizer.idf_, dtype=np.float32),
        coef=np.ascontiguousarray(coef.T, dtype=np.float32),
        intercept=np.asarray(intercept, dtype=np.float32),
        classes=tuple(str(k) for k in clf.classes_),
        meta={
            "format": FORMAT,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "examples": len(texts),
            "per_label": dict(Counter(labels)),
            "sources": list(sources),
            "c": c,
            "min_df": min_df,
            "label_map": dict(label_map or {}),
        },
    )
