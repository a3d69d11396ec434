"""Linear probes on text features and their macro-F1 over cross-validation folds.

As in arXiv 2502.11367: logistic regression whose inverse regularisation C is picked by an inner
5-fold cross-validation on the training part, scored by macro-F1 (the mean of the per-class F1,
so a rare class counts as much as a common one); the TF-IDF baseline is the same classifier on
word 1-2-gram TF-IDF vectors of the raw texts. The paper reports one stratified 80/20 split; here
the outer loop is a stratified k-fold, so each number comes with the spread over folds. Every
transform that learns from data (scaling, the TF-IDF vocabulary) is fitted inside the fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..stats import mean_interval

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def probe(scale: bool = True, seed: int = 0):
    """Logistic regression with C chosen by inner 5-fold CV on macro-F1 (features standardised first)."""
    classifier = LogisticRegressionCV(Cs=list(C_GRID), cv=5, scoring=make_scorer(f1_score, average="macro"),
                                      max_iter=2000, random_state=seed)
    return make_pipeline(StandardScaler(), classifier) if scale else classifier


def tfidf_probe(seed: int = 0):
    """The bag-of-n-grams baseline: word 1-2-gram TF-IDF, then the same logistic regression."""
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2), probe(scale=False, seed=seed))


def cross_validated_f1(make_model, features, labels, folds: int = 5, seed: int = 0, name: str = "") -> pd.DataFrame:
    """Macro-F1 of ``make_model()`` on each held-out fold of a stratified k-fold; one row per fold."""
    labels = np.asarray(labels)
    rows = []
    pick = (lambda idx: [features[i] for i in idx]) if isinstance(features, list) else (lambda idx: features[idx])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        model = make_model().fit(pick(train), labels[train])
        rows.append({"features": name, "fold": fold,
                     "macro_f1": f1_score(labels[test], model.predict(pick(test)), average="macro")})
    return pd.DataFrame(rows)


def summarise(folds: pd.DataFrame) -> pd.DataFrame:
    """Per feature set: mean macro-F1 over folds and the half-width of its 95% t-interval."""
    return (folds.groupby("features", sort=False)["macro_f1"]
            .agg(macro_f1="mean", interval=mean_interval, folds="count").reset_index())
