"""Linear probes on text features and their macro-F1 over cross-validation folds.

As in arXiv 2502.11367: logistic regression whose inverse regularisation C is picked by an inner
5-fold cross-validation on the training part, scored by macro-F1 (the mean of the per-class F1,
so a rare class counts as much as a common one); the TF-IDF baseline is the same classifier on
word 1-2-gram TF-IDF vectors of the raw texts. The paper reports one stratified 80/20 split; here
the outer loop is a stratified k-fold, so each number comes with the spread over folds. Every
transform that learns from data (scaling, the TF-IDF vocabulary) is fitted inside the fold.

The logistic search costs 7-50 s a feature set on two cores (300-700 texts, 3-5 inner folds; the
chapter's run reports its own), too much for a grid of
dozens of sets per task; :func:`ridge_probe` is the grid's probe: a ridge classifier (least
squares on +-1 targets, classes weighted inversely to their frequency, so that a rare class is
not simply never predicted) whose penalty is chosen by exact leave-one-out error on the training
fold, which has a closed form and costs well under a second a set.
"""

from __future__ import annotations

from inspect import signature

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV, RidgeClassifierCV
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..stats import bootstrap_interval, mean_interval

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
# scikit-learn >= 1.8 warns that LogisticRegressionCV's defaults change in 1.10 (its fitted attributes; l1_ratios
# None -> (0,), i.e. the same L2 penalty) unless they are given; where those options exist, give the new values
_NEW_DEFAULTS = ({"use_legacy_attributes": False, "l1_ratios": (0.0,)}
                 if "use_legacy_attributes" in signature(LogisticRegressionCV).parameters else {})
RIDGE_ALPHAS = tuple(np.logspace(-2, 5, 15))


def probe(scale: bool = True, seed: int = 0, inner_folds: int = 5):
    """Logistic regression with C chosen by inner k-fold CV on macro-F1 (features standardised first)."""
    classifier = LogisticRegressionCV(Cs=list(C_GRID), cv=inner_folds, scoring=make_scorer(f1_score, average="macro"),
                                      max_iter=2000, random_state=seed, **_NEW_DEFAULTS)
    return make_pipeline(StandardScaler(), classifier) if scale else classifier


def tfidf_probe(seed: int = 0, inner_folds: int = 5):
    """The bag-of-n-grams baseline: word 1-2-gram TF-IDF, then the same logistic regression."""
    return make_pipeline(_tfidf(), probe(scale=False, seed=seed, inner_folds=inner_folds))


def ridge_probe():
    """Standardised features, then a class-balanced ridge classifier, penalty chosen by leave-one-out."""
    return make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=RIDGE_ALPHAS, class_weight="balanced"))


def tfidf_ridge_probe():
    """Word 1-2-gram TF-IDF, then the class-balanced ridge classifier."""
    return make_pipeline(_tfidf(), RidgeClassifierCV(alphas=RIDGE_ALPHAS, class_weight="balanced"))


def _tfidf() -> TfidfVectorizer:
    """Word 1-2-gram TF-IDF over n-grams seen in at least two texts."""
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2)


def bootstrap_f1(labels, predicted, resamples: int = 1000, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float, float]:
    """Macro-F1 of predictions and its percentile bootstrap interval over the items: (f1, low, high)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    low, high = bootstrap_interval(lambda d: f1_score(labels[d], predicted[d], average="macro"), len(labels),
                                   resamples, seed, level)
    return float(f1_score(labels, predicted, average="macro")), low, high


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


def summarise(folds: pd.DataFrame, by: list[str] | tuple[str, ...] = ("features",)) -> pd.DataFrame:
    """Per group of ``by`` (the feature set): mean macro-F1 over folds and the half-width of its 95% t-interval."""
    return (folds.groupby(list(by), sort=False)["macro_f1"]
            .agg(macro_f1="mean", interval=mean_interval, folds="count").reset_index())
