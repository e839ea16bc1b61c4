"""The fast prediction path computes exactly what the stored scikit-learn Pipeline computes.

`SignalClassifier.scores` builds the feature matrix without the Pipeline (one join, cached per-word character
n-grams, phrases found with Aho-Corasick); any difference would silently change every label. Checked on the
bundled model and corpus (our own writing) plus sentences written here for the edge cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from monitor.classify import features
from monitor.classify.corpus import load_corpus
from monitor.classify.model import load_packaged_model
from monitor.classify.train import document_for

EDGE_CASES = [
    {"title": "", "text": ""},
    {"title": "Jail break", "text": ""},
    {"title": "", "text": "They broke out on the run. At large!Set the inmates free.Prison break-in years ago"},
    {"title": "ÉVASION À LA MAISON D'ARRÊT", "text": "Des détenus se sont évadés\u00a0 hier   soir."},
    {"title": "هروب سجناء", "text": "فرّ عشرات السجناء من سجن غويران في الحسكة."},
    {"title": "a", "text": "x y z on the runway, escape rooms, hunger-striking inmates, sit-ins"},
]


@pytest.fixture(scope="module")
def model():
    """The first stage of the bundled model: the part whose features take the fast path."""
    shipped = load_packaged_model()
    return getattr(shipped, "first", shipped)


@pytest.fixture(scope="module")
def documents():
    return [document_for(example) for example in load_corpus()[::3]] + EDGE_CASES


def test_fast_features_equal_the_pipelines(model, documents):
    expected = model.pipeline.named_steps["features"].transform(documents)
    fast = features.fast_features(model.pipeline, documents)
    assert fast is not None, "the bundled model should take the fast path"
    assert fast.shape == expected.shape
    assert (fast != expected).nnz == 0


def test_fast_probabilities_equal_the_pipelines(model, documents):
    expected = model.pipeline.predict_proba(documents)
    assert np.array_equal(model.scores(documents), expected)


def test_phrases_are_replaced_as_the_regex_does(documents):
    for document in documents:
        for text in (document["title"].lower(), document["text"].lower()):
            expected = features._PHRASE_RE.sub(lambda m: features._PHRASES[m.group(1)], text)
            assert features.replace_phrases(text) == expected


def test_a_pipeline_of_another_shape_falls_back_to_scikit_learn(documents):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline = Pipeline([("join", FunctionTransformer(features.join_title_and_text)),
                         ("tfidf", TfidfVectorizer()), ("classify", LogisticRegression())])
    pipeline.fit(documents[:40], [i % 2 for i in range(40)])
    assert features.fast_features(pipeline, documents[:5]) is None
    assert np.array_equal(features.predict_proba(pipeline, documents[:5]), pipeline.predict_proba(documents[:5]))
